"""The train/eval split of sessions: parsed from TRAIN:EVAL, carried by the run profile
into LogExampleGen's output_config under every runner."""

import pytest
from google.protobuf import json_format
from tfx.proto import example_gen_pb2

from pipeline import airflow_runner, config, kubeflow_runner


def test_a_split_parses_from_train_colon_eval_and_prints_back():
    split = config.SplitBuckets.parse("9:1")
    assert (split.train, split.eval) == (9, 1)
    assert str(split) == "9:1"
    assert config.SplitBuckets() == config.SplitBuckets.parse("2:1")


@pytest.mark.parametrize("value", ["9", "9:1:1", "a:b", "", "9/1"])
def test_a_malformed_split_is_refused_with_the_expected_form(value):
    with pytest.raises(ValueError, match="TRAIN:EVAL"):
        config.SplitBuckets.parse(value)


@pytest.mark.parametrize("value", ["0:1", "3:0", "-1:2"])
def test_every_split_needs_a_bucket(value):
    with pytest.raises(ValueError, match="at least one bucket"):
        config.SplitBuckets.parse(value)


def _output_config(pipeline) -> example_gen_pb2.Output:
    (example_gen,) = [c for c in pipeline.components if c.id == "LogExampleGen"]
    # TFX keeps a component's proto parameters as JSON.
    return json_format.Parse(example_gen.exec_properties["output_config"], example_gen_pb2.Output())


def _buckets(output: example_gen_pb2.Output) -> dict:
    return {s.name: s.hash_buckets for s in output.split_config.splits}


@pytest.mark.parametrize("profile", sorted(config.PROFILES))
def test_each_runner_splits_sessions_as_its_profile_says(tmp_path, profile):
    expected = config.PROFILES[profile].split
    airflow = airflow_runner.build_pipeline(
        airflow_runner.AirflowSettings(
            log_dir=str(tmp_path / "logs"), root=str(tmp_path / "root"), profile=profile
        )
    )
    kubeflow = kubeflow_runner.build_pipeline(
        kubeflow_runner.KubeflowSettings(
            image="mmcs:test",
            pipeline_root=str(tmp_path / "kfp"),
            log_dir="/data/logs",
            serving_model_dir="/models/mmcs",
            profile=profile,
        )
    )
    for pipeline in (airflow, kubeflow):
        output = _output_config(pipeline)
        assert _buckets(output) == {"train": expected.train, "eval": expected.eval}
        # Sessions, not turns, are hashed: a conversation is never in both splits.
        assert output.split_config.partition_feature_name == "session_id"
