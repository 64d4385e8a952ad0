"""`mmcs compile kubeflow`: the KFP v2 spec TFX's KubeflowV2DagRunner writes for the pipeline."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import anomalies_pb2, statistics_pb2
from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner
from tfx.types import artifact_utils, standard_artifacts

import schemas
from models import features
from pipeline import cli, compile_cli, config, kubeflow_example_validator, kubeflow_runner
from pipeline.pipeline import PREPROCESSING_FN, RUN_FN, load_custom_validations

REPO = Path(__file__).resolve().parents[2]
IMAGE = "europe-docker.pkg.dev/acme/ml/mmcs-pipeline:1.2.3"
PIPELINE_ROOT = "gs://acme-ml/mmcs/pipeline"
LOGS = "gs://acme-ml/mmcs/logs"
SERVING = "gs://acme-ml/mmcs/serving/mmcs"
EXTRA_BEAM_ARGS = ["--temp_location=gs://acme-ml/tmp", "--max_num_workers=4"]
COMPONENTS = (
    "LogExampleGen",
    "StatisticsGen",
    "ImportSchemaGen",
    "ExampleValidator",
    "ValidationGate",
    "Transform",
    "Trainer",
    "Evaluator",
    "Pusher",
)
RESOLVER = "latest_blessed_model_resolver"


@pytest.fixture(scope="module")
def spec(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("kfp") / "mmcs.json"
    code = cli.main(
        [
            "compile",
            "kubeflow",
            "--out",
            str(out),
            "--image",
            IMAGE,
            "--pipeline-root",
            PIPELINE_ROOT,
            "--logs",
            LOGS,
            "--serving-model-dir",
            SERVING,
            "--profile",
            "sample",
            "--workers",
            "3",
            *[f"--beam-arg={arg}" for arg in EXTRA_BEAM_ARGS],
        ]
    )
    assert code == 0
    return json.loads(out.read_text())


def _tasks(spec):
    return spec["pipelineSpec"]["root"]["dag"]["tasks"]


def _executor(spec, task_name):
    component = spec["pipelineSpec"]["components"][_tasks(spec)[task_name]["componentRef"]["name"]]
    return spec["pipelineSpec"]["deploymentSpec"]["executors"][component["executorLabel"]]


def _parameter(spec, task_name, name):
    value = _tasks(spec)[task_name]["inputs"]["parameters"][name]
    return value["runtimeValue"]["constantValue"]["stringValue"]


def _executor_class(spec, task_name):
    args = _executor(spec, task_name)["container"]["args"]
    return args[args.index("--executor_class_path") + 1]


def test_every_component_runs_in_the_pipeline_image(spec):
    tasks = _tasks(spec)
    for name in COMPONENTS:
        container = _executor(spec, name)["container"]
        assert container["image"] == IMAGE, name
        assert tuple(container["command"]) == kubeflow_v2_dag_runner.KUBEFLOW_TFX_CMD, name
    # KFP v2 resolves the latest blessed model with artifact queries, not in a container.
    resolver_tasks = [name for name in tasks if name.startswith(RESOLVER)]
    assert resolver_tasks
    assert all("resolver" in _executor(spec, name) for name in resolver_tasks)
    assert spec["pipelineSpec"]["pipelineInfo"]["name"] == config.PIPELINE_NAME
    assert spec["runtimeConfig"]["gcsOutputDirectory"] == PIPELINE_ROOT


def test_steps_get_the_user_code_locations_and_settings(spec):
    assert _parameter(spec, "Trainer", "run_fn") == RUN_FN
    assert json.loads(_parameter(spec, "Trainer", "custom_config")) == json.loads(
        json.dumps(config.PROFILES["sample"].training.to_custom_config())
    )
    assert _parameter(spec, "Transform", "preprocessing_fn") == PREPROCESSING_FN
    assert _parameter(spec, "LogExampleGen", "input_base") == LOGS
    assert _executor_class(spec, "LogExampleGen") == "components.log_example_gen.executor.Executor"
    push_destination = json.loads(_parameter(spec, "Pusher", "push_destination"))
    assert push_destination["filesystem"]["base_directory"] == SERVING
    assert _parameter(spec, "ImportSchemaGen", "schema_file") == kubeflow_runner.IMAGE_SCHEMA_PATH
    assert kubeflow_runner.IMAGE_SCHEMA_PATH == "/mmcs/schemas/schema.pbtxt"


def test_beam_steps_get_the_beam_args(spec):
    for name in ("LogExampleGen", "StatisticsGen", "Transform", "Evaluator"):
        args = _executor(spec, name)["container"]["args"]
        assert "--direct_num_workers=3" in args, name
        assert args[-len(EXTRA_BEAM_ARGS) :] == EXTRA_BEAM_ARGS, name


def _depends_on(spec, task, upstream) -> bool:
    """Whether upstream runs before task (directly or through other tasks)."""
    pending = list(_tasks(spec)[task].get("dependentTasks", []))
    seen = set()
    while pending:
        name = pending.pop()
        if name == upstream:
            return True
        if name not in seen:
            seen.add(name)
            pending.extend(_tasks(spec)[name].get("dependentTasks", []))
    return False


def test_steps_run_in_pipeline_order(spec):
    assert "Transform" in _tasks(spec)["Trainer"]["dependentTasks"]
    assert "Evaluator" in _tasks(spec)["Pusher"]["dependentTasks"]
    # Nothing trains before the validation gate has passed the data.
    assert _depends_on(spec, "Transform", "ValidationGate")
    assert _depends_on(spec, "Trainer", "ValidationGate")
    assert not _depends_on(spec, "ValidationGate", "Transform")


def test_custom_validations_travel_as_json_to_the_kubeflow_executor(spec):
    assert _executor_class(spec, "ExampleValidator") == (
        "pipeline.kubeflow_example_validator.Executor"
    )
    sent = _parameter(spec, "ExampleValidator", "custom_validation_config")
    assert kubeflow_example_validator.parse_custom_validations(sent) == load_custom_validations(
        str(schemas.CUSTOM_VALIDATIONS_PATH)
    )


def _presence_stats(shares: dict[str, float]) -> statistics_pb2.DatasetFeatureStatisticsList:
    """Statistics of 100 turns with these shares of the presence flags (has_text, ...)."""
    count = 100
    return statistics_pb2.DatasetFeatureStatisticsList(
        datasets=[
            statistics_pb2.DatasetFeatureStatistics(
                num_examples=count,
                features=[
                    statistics_pb2.FeatureNameStatistics(
                        path={"step": [name]},
                        type=statistics_pb2.FeatureNameStatistics.INT,
                        num_stats=statistics_pb2.NumericStatistics(
                            mean=share,
                            min=0,
                            max=1,
                            common_stats=statistics_pb2.CommonStatistics(
                                num_non_missing=count, min_num_values=1, max_num_values=1
                            ),
                        ),
                    )
                    for name, share in shares.items()
                ],
            )
        ]
    )


def _validate_with_kubeflow_executor(folder, spec, shares) -> dict[str, list[str]]:
    """Runs the ExampleValidator executor the spec names, with the spec's JSON parameter."""
    stats = _presence_stats(shares)
    statistics = standard_artifacts.ExampleStatistics()
    statistics.uri = str(folder / "statistics")
    statistics.split_names = artifact_utils.encode_split_names(["train"])
    os.makedirs(os.path.join(statistics.uri, "Split-train"))
    stats_path = os.path.join(statistics.uri, "Split-train", "FeatureStats.pb")
    with open(stats_path, "wb") as stats_file:  # as StatisticsGen writes it
        stats_file.write(stats.SerializeToString())
    schema = standard_artifacts.Schema()
    schema.uri = str(folder / "schema")
    os.makedirs(schema.uri)
    tfdv.write_schema_text(tfdv.infer_schema(stats), os.path.join(schema.uri, "schema.pbtxt"))
    anomalies = standard_artifacts.ExampleAnomalies()
    anomalies.uri = str(folder / "anomalies")

    kubeflow_example_validator.Executor().Do(
        {"statistics": [statistics], "schema": [schema]},
        {"anomalies": [anomalies]},
        {
            "exclude_splits": "[]",
            "custom_validation_config": _parameter(
                spec, "ExampleValidator", "custom_validation_config"
            ),
        },
    )
    with open(os.path.join(anomalies.uri, "Split-train", "SchemaDiff.pb"), "rb") as found_file:
        found = anomalies_pb2.Anomalies.FromString(found_file.read())
    return {
        feature: [reason.description for reason in info.reason]
        for feature, info in found.anomaly_info.items()
    }


def test_kubeflow_example_validator_applies_the_custom_validations(tmp_path, spec):
    shares = {features.HAS_TEXT_KEY: 0.7, features.HAS_IMAGE_KEY: 0.3, features.HAS_AUDIO_KEY: 0.2}
    assert _validate_with_kubeflow_executor(tmp_path / "good", spec, shares) == {}
    shares[features.HAS_IMAGE_KEY] = 0.0
    found = _validate_with_kubeflow_executor(tmp_path / "bad", spec, shares)
    assert list(found) == [features.HAS_IMAGE_KEY]
    assert "Custom validation triggered anomaly" in found[features.HAS_IMAGE_KEY][0]


def _runtime_artifact(name: str, type_name: str, uri, metadata=None) -> dict:
    """One artifact of an ExecutorInput, as the KFP backend hands it to a step."""
    return {
        "artifacts": [
            {"name": name, "type": {"schemaTitle": type_name}, "uri": str(uri)}
            | ({"metadata": metadata} if metadata else {})
        ]
    }


def test_kfp_launcher_runs_the_example_validator_step_as_compiled(tmp_path, spec):
    """The step's command and arguments, run as a KFP pod would (the repo as /mmcs)."""
    shares = {features.HAS_TEXT_KEY: 0.7, features.HAS_IMAGE_KEY: 0.0, features.HAS_AUDIO_KEY: 0.2}
    stats = _presence_stats(shares)
    os.makedirs(tmp_path / "statistics" / "Split-train")
    (tmp_path / "statistics" / "Split-train" / "FeatureStats.pb").write_bytes(
        stats.SerializeToString()
    )
    os.makedirs(tmp_path / "schema")
    tfdv.write_schema_text(tfdv.infer_schema(stats), str(tmp_path / "schema" / "schema.pbtxt"))
    parameters = _tasks(spec)["ExampleValidator"]["inputs"]["parameters"]
    executor_input = {
        "inputs": {
            "parameters": {
                name: value["runtimeValue"]["constantValue"] for name, value in parameters.items()
            },
            "artifacts": {
                "statistics": _runtime_artifact(
                    "statistics",
                    "tfx.ExampleStatistics",
                    tmp_path / "statistics",
                    {"split_names": '["train"]'},
                ),
                "schema": _runtime_artifact("schema", "tfx.Schema", tmp_path / "schema"),
            },
        },
        "outputs": {
            "artifacts": {
                "anomalies": _runtime_artifact(
                    "anomalies", "tfx.ExampleAnomalies", tmp_path / "anomalies"
                )
            },
            "outputFile": str(tmp_path / "task" / "executor_output.json"),
        },
    }
    container = _executor(spec, "ExampleValidator")["container"]
    command = [sys.executable, *container["command"][1:]]
    args = [json.dumps(executor_input) if arg == "{{$}}" else arg for arg in container["args"]]
    result = subprocess.run(
        [*command, *args], cwd=REPO, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    output = json.loads((tmp_path / "task" / "executor_output.json").read_text())
    assert output["artifacts"]["anomalies"]["artifacts"][0]["uri"] == str(tmp_path / "anomalies")
    found = anomalies_pb2.Anomalies.FromString(
        (tmp_path / "anomalies" / "Split-train" / "SchemaDiff.pb").read_bytes()
    )
    assert list(found.anomaly_info) == [features.HAS_IMAGE_KEY]


def test_default_image_is_the_one_make_image_builds():
    """`make image` tags mmcs-pipeline:<setup.py version>; the spec names the same by default."""
    make = subprocess.run(
        ["make", "-n", "image"], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert f"docker build -t {compile_cli.default_image()} ." in make.stdout
    setup_text = (REPO / "setup.py").read_text(encoding="utf-8")
    assert compile_cli.default_image().endswith(
        ":" + re.search(r'version="([^"]+)"', setup_text).group(1)
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--out", "spec.txt"], "must end in .json"),
        (["--out", "spec.json", "--logs", "relative/logs"], "--logs 'relative/logs' must be a URI"),
        (["--out", "spec.json", "--image", "Not An/Image"], "not a container image reference"),
        (["--out", "spec.json", "--beam-arg=runner"], "must be a Beam option"),
        (["--out", "spec.json", "--workers", "0"], "--workers must be at least 1"),
        (["--out", "spec.json", "--runner", "dataflow"], "--beam-arg=--project=..."),
    ],
)
def test_bad_arguments_exit_2_with_one_line(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["compile", "kubeflow", *args]) == compile_cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1
    assert not (tmp_path / "spec.json").exists()


def test_missing_out_is_a_one_line_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["compile", "kubeflow", "--image", IMAGE])
    assert exit_info.value.code == compile_cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("mmcs compile kubeflow: the following arguments are required: --out")
    assert err.count("\n") == 1
