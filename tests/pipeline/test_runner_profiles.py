"""Beam runner profiles: each yields the Beam arguments its runner needs, and Beam parses
them into the options that runner reads."""

import pytest
from apache_beam.options import pipeline_options as po
from apache_beam.runners.dask.dask_runner import DaskOptions

from pipeline import beam_flags, cli, config


def _options(beam: config.BeamConfig) -> po.PipelineOptions:
    return po.PipelineOptions(beam.pipeline_args())


def test_direct_is_the_default_with_one_process_per_worker():
    options = _options(config.BeamConfig(workers=3))
    assert options.view_as(po.StandardOptions).runner == "DirectRunner"
    direct = options.view_as(po.DirectOptions)
    assert (direct.direct_running_mode, direct.direct_num_workers) == ("multi_processing", 3)


def test_dask_local_and_scheduler_address():
    local = _options(config.BeamConfig(runner="dask"))
    assert local.view_as(po.StandardOptions).runner == config.DASK_RUNNER
    assert local.view_as(DaskOptions).address is None  # Beam starts a local cluster
    remote = _options(
        config.BeamConfig(runner="dask", extra_args=("--dask_client_address=tcp://sched:8786",))
    )
    assert remote.view_as(DaskOptions).address == "tcp://sched:8786"


def test_flink_defaults_and_overrides():
    options = _options(config.BeamConfig(runner="flink"))
    assert options.view_as(po.StandardOptions).runner == "FlinkRunner"
    assert options.view_as(po.FlinkRunnerOptions).flink_master == "localhost:8081"
    assert options.view_as(po.PortableOptions).environment_type == "LOOPBACK"
    cluster = config.BeamConfig(
        runner="flink",
        extra_args=(
            "--flink_master=flink-jobmanager:8081",
            "--environment_type=DOCKER",
            "--sdk_container_image=mmcs-pipeline:0.1.0",
        ),
    )
    args = cluster.pipeline_args()
    # A user option replaces the profile default instead of appearing twice.
    assert [a for a in args if a.startswith("--flink_master")] == [
        "--flink_master=flink-jobmanager:8081"
    ]
    options = po.PipelineOptions(args)
    assert options.view_as(po.FlinkRunnerOptions).flink_master == "flink-jobmanager:8081"
    assert options.view_as(po.PortableOptions).environment_type == "DOCKER"
    assert options.view_as(po.WorkerOptions).sdk_container_image == "mmcs-pipeline:0.1.0"


def test_spark_master_url():
    options = _options(
        config.BeamConfig(runner="spark", extra_args=("--spark_master_url=spark://m:7077",))
    )
    assert options.view_as(po.StandardOptions).runner == "SparkRunner"
    assert options.view_as(po.SparkRunnerOptions).spark_master_url == "spark://m:7077"
    assert _options(config.BeamConfig(runner="spark")).view_as(
        po.SparkRunnerOptions
    ).spark_master_url == ("local[2]")


def test_dataflow_needs_its_cloud_options():
    with pytest.raises(ValueError, match="--project=.*--region=.*--temp_location="):
        config.BeamConfig(runner="dataflow").pipeline_args()
    beam = config.BeamConfig(
        runner="dataflow",
        extra_args=(
            "--project=acme-mmcs",
            "--region=europe-west1",
            "--temp_location=gs://acme-mmcs/tmp",
            "--staging_location=gs://acme-mmcs/staging",
            "--sdk_container_image=europe-docker.pkg.dev/acme-mmcs/mmcs/pipeline:0.1.0",
        ),
    )
    options = _options(beam)
    assert options.view_as(po.StandardOptions).runner == "DataflowRunner"
    cloud = options.view_as(po.GoogleCloudOptions)
    assert (cloud.project, cloud.region) == ("acme-mmcs", "europe-west1")
    assert cloud.temp_location == "gs://acme-mmcs/tmp"
    assert cloud.staging_location == "gs://acme-mmcs/staging"
    assert options.view_as(po.WorkerOptions).sdk_container_image.endswith("pipeline:0.1.0")


def test_unknown_runner_is_refused():
    with pytest.raises(ValueError, match="unknown Beam runner 'storm'"):
        config.BeamConfig(runner="storm").pipeline_args()


def test_cli_selects_the_profile_and_passes_beam_args():
    args = cli.build_parser().parse_args(
        [
            "run",
            "--logs",
            "logs",
            "--runner",
            "flink",
            "--beam-arg=--flink_master=f:8081",
            "--span-window",
            "3",
        ]
    )
    assert args.span_window == 3
    options = po.PipelineOptions(beam_flags.beam_config(args).pipeline_args())
    assert options.view_as(po.FlinkRunnerOptions).flink_master == "f:8081"
    ingest = cli.build_parser().parse_args(["ingest", "logs", "--out", "o", "--runner", "dask"])
    assert beam_flags.beam_config(ingest).pipeline_args()[0] == f"--runner={config.DASK_RUNNER}"


def test_missing_cloud_options_are_a_usage_error(tmp_path, capsys):
    code = cli.main(["run", "--logs", str(tmp_path), "--runner", "dataflow"])
    assert code == cli.EXIT_USAGE
    assert "--beam-arg=--project=..." in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--beam-arg", "temp_location=/tmp/beam"], "must be a Beam option"),
        (["--workers", "0"], "--workers must be at least 1, got 0"),
    ],
)
@pytest.mark.parametrize("command", ["run", "ingest"])
def test_bad_beam_flags_are_a_usage_error_before_anything_runs(
    tmp_path, capsys, command, argv, message
):
    # Beam would drop an option without its "--" with a log warning only; `mmcs run` and
    # `mmcs ingest` refuse it as `mmcs compile` does, before reading the logs.
    out = tmp_path / "out"
    target = ["--logs", str(tmp_path)] if command == "run" else [str(tmp_path)]
    code = cli.main([command, *target, "--out", str(out), *argv])
    assert code == cli.EXIT_USAGE
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_log_layout_is_detected(tmp_path):
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "turns.jsonl").write_text("")
    dated = tmp_path / "dated"
    (dated / "2026-11-01").mkdir(parents=True)
    (dated / "2026-11-01" / "turns.jsonl").write_text("")
    assert config.log_pattern_for(str(flat)) == config.FLAT_LOG_PATTERN
    assert config.log_pattern_for(str(dated)) == config.DATED_LOG_PATTERN
