"""`mmcs compile kubeflow|airflow`: the pipeline for an orchestrator, as a file to deploy."""

import argparse
import datetime
import importlib.metadata
import os
import re
import sys

EXIT_USAGE = 2
EXIT_FAILED = 1
IMAGE_NAME = "mmcs-pipeline"
# Defaults for a cluster whose artifacts live in one bucket; pass your own locations.
DEFAULT_BUCKET = "gs://mmcs-pipeline"
DEFAULT_PIPELINE_ROOT = f"{DEFAULT_BUCKET}/pipeline"
DEFAULT_LOG_DIR = f"{DEFAULT_BUCKET}/logs"
# A container image reference: [registry[:port]/]name[:tag][@digest], lower-case path.
_IMAGE_REFERENCE = re.compile(
    r"^(?:[A-Za-z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:[._/-][a-z0-9]+)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$"
)
_URI = re.compile(r"^[a-z][a-z0-9+.-]*://\S+$")
_SPEC_SUFFIXES = (".json", ".yaml", ".yml")


def default_image() -> str:
    """The image `make image` builds: mmcs-pipeline:<package version>."""
    return f"{IMAGE_NAME}:{importlib.metadata.version('mmcs')}"


class _OneLineErrorParser(argparse.ArgumentParser):
    """Reports a bad argument in one line (no usage block) and exits with status 2."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")


class UsageError(ValueError):
    """A bad argument; the message names it and what was expected."""


class CompileError(RuntimeError):
    """The orchestrator's compiler rejected the pipeline."""


def _cluster_location(option: str, value: str) -> str:
    """A location every Kubeflow step can reach: a URI, or an absolute path in the image."""
    if _URI.match(value) or value.startswith("/"):
        return value.rstrip("/") or "/"
    raise UsageError(f"{option} {value!r} must be a URI (gs://...) or an absolute path")


def _local_location(value: str) -> str:
    """A URI as given, or a local path made absolute (Airflow's workers run elsewhere)."""
    return value.rstrip("/") if _URI.match(value) else os.path.abspath(value)


def _beam_args(args) -> tuple[str, ...]:
    from pipeline import beam_flags

    try:
        return tuple(beam_flags.beam_config(args).pipeline_args())
    except ValueError as error:
        raise UsageError(str(error)) from error


def _compile_kubeflow(args) -> str:
    from pipeline import kubeflow_runner

    if not args.out.endswith(_SPEC_SUFFIXES):
        raise UsageError(f"--out {args.out!r} must end in {', '.join(_SPEC_SUFFIXES)}")
    if os.path.isdir(args.out):
        raise UsageError(f"--out {args.out!r} is a folder; give a file name")
    image = args.image or default_image()
    if not _IMAGE_REFERENCE.match(image):
        raise UsageError(f"--image {image!r} is not a container image reference (name:tag)")
    settings = kubeflow_runner.KubeflowSettings(
        image=image,
        pipeline_root=_cluster_location("--pipeline-root", args.pipeline_root),
        log_dir=_cluster_location("--logs", args.logs),
        serving_model_dir=_cluster_location("--serving-model-dir", args.serving_model_dir),
        beam_pipeline_args=_beam_args(args),
        profile=args.profile,
    )
    try:
        kubeflow_runner.compile_pipeline(settings, args.out)
    except (TypeError, ValueError) as error:
        raise CompileError(f"TFX's Kubeflow V2 compiler rejected the pipeline: {error}") from error
    return f"wrote the Kubeflow Pipelines spec {args.out} (image {image})"


def _compile_airflow(args) -> str:
    from pipeline import airflow_runner

    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise UsageError(f"--out {args.out!r} is a file; give the DAG folder")
    if not _URI.match(args.logs) and not os.path.isdir(args.logs):
        raise UsageError(f"--logs {args.logs!r} is not a folder")
    try:
        settings = airflow_runner.AirflowSettings(
            log_dir=_local_location(args.logs),
            root=_local_location(args.root),
            schedule=None if args.schedule.lower() == "none" else args.schedule,
            start_date=args.start_date,
            beam_pipeline_args=_beam_args(args),
            profile=args.profile,
        )
    except ValueError as error:
        raise UsageError(str(error)) from error
    # Build it once here: a DAG file that cannot build the pipeline fails now, not in Airflow.
    try:
        airflow_runner.build_pipeline(settings)
    except (TypeError, ValueError) as error:
        raise CompileError(f"the pipeline does not build: {error}") from error
    path = airflow_runner.write_dag_file(settings, args.out)
    return f"wrote the Airflow DAG {path} (dag id {settings.pipeline_name}, {args.schedule})"


def _cmd_compile(args) -> int:
    compile_target = {"kubeflow": _compile_kubeflow, "airflow": _compile_airflow}
    try:
        message = compile_target[args.orchestrator](args)
    except UsageError as error:
        print(f"mmcs compile {args.orchestrator}: {error}", file=sys.stderr)
        return EXIT_USAGE
    except CompileError as error:
        print(f"mmcs compile {args.orchestrator}: {error}", file=sys.stderr)
        return EXIT_FAILED
    print(message)
    return 0


def _add_common_args(parser: argparse.ArgumentParser) -> None:
    from pipeline import beam_flags, config

    parser.add_argument(
        "--profile",
        choices=sorted(config.PROFILES),
        default="full",
        help="training effort and blessing bar (default full)",
    )
    beam_flags.add_arguments(
        parser,
        runner_help="Beam runner profile of the data components, as for `mmcs run`",
        example="--temp_location=gs://...",
    )


def add_parser(commands) -> None:
    """Registers `compile` with its orchestrators on the `mmcs` sub-command set."""
    from pipeline import config

    default_serving_model_dir = f"{DEFAULT_BUCKET}/serving/{config.MODEL_NAME}"
    compile_parser = commands.add_parser(
        "compile", help="compile the pipeline for Kubeflow Pipelines or Airflow"
    )
    # Created by the main parser's sub-command set; its errors are one line too.
    compile_parser.error = _OneLineErrorParser.error.__get__(compile_parser)
    targets = compile_parser.add_subparsers(
        dest="orchestrator", required=True, parser_class=_OneLineErrorParser
    )

    kubeflow = targets.add_parser(
        "kubeflow", help="KFP v2 pipeline spec (Kubeflow Pipelines, Vertex AI Pipelines)"
    )
    kubeflow.add_argument("--out", required=True, help="spec file to write (.json or .yaml)")
    kubeflow.add_argument(
        "--image",
        default=None,
        help=f"container image of every step (default {IMAGE_NAME}:<version>)",
    )
    kubeflow.add_argument(
        "--pipeline-root",
        default=DEFAULT_PIPELINE_ROOT,
        help=f"artifacts root (default {DEFAULT_PIPELINE_ROOT})",
    )
    kubeflow.add_argument(
        "--logs",
        default=DEFAULT_LOG_DIR,
        help=f"log folder URI (default {DEFAULT_LOG_DIR})",
    )
    kubeflow.add_argument(
        "--serving-model-dir",
        default=default_serving_model_dir,
        help=f"TF Serving model base dir for the Pusher (default {default_serving_model_dir})",
    )
    _add_common_args(kubeflow)

    airflow = targets.add_parser("airflow", help="Airflow 2 DAG file (TFX AirflowDagRunner)")
    airflow.add_argument("--out", required=True, help="DAG folder to write the DAG file into")
    airflow.add_argument("--logs", required=True, help="log folder the pipeline reads")
    airflow.add_argument(
        "--root",
        default="runs/airflow",
        help="pipeline root, metadata and serving folder (default runs/airflow)",
    )
    airflow.add_argument(
        "--schedule",
        default="@daily",
        help="Airflow schedule: @daily, @hourly, ..., a cron expression, or none (default @daily)",
    )
    airflow.add_argument(
        "--start-date",
        default=datetime.datetime.now(datetime.timezone.utc).date().isoformat(),
        help="first logical date, YYYY-MM-DD (default today, UTC)",
    )
    _add_common_args(airflow)
    compile_parser.set_defaults(func=_cmd_compile)
