"""`mmcs tensorboard`: TensorBoard on the latest Trainer run of a local pipeline root.

The Trainer writes its Keras TensorBoard logs to its ModelRun artifact; ML Metadata knows
which run is the newest and which runs came before.
"""

import subprocess
import sys

from pipeline import config, run_history

EXIT_USAGE = 2


def format_runs(runs: list[run_history.TrainerRun]) -> list[str]:
    """One line per Trainer run, newest first, the newest marked."""
    lines = []
    for index, run in enumerate(runs):
        marker = "*" if index == 0 else " "
        lines.append(
            f"{marker} {run.created:%Y-%m-%d %H:%M:%S} UTC  execution {run.execution_id:<5} "
            f"{run.state:<9} run {run.pipeline_run_id}  {run.log_dir}"
        )
    return lines


def tensorboard_command(log_dir: str, port: int, host: str = "localhost") -> list[str]:
    """The command line that serves log_dir (TensorBoard of this environment)."""
    return [
        sys.executable,
        "-m",
        "tensorboard.main",
        f"--logdir={log_dir}",
        f"--port={port}",
        f"--host={host}",
    ]


def _cmd_tensorboard(args) -> int:
    paths = config.PipelinePaths(args.out)
    runs = run_history.trainer_runs(paths.metadata_path, config.PIPELINE_NAME)
    if not runs:
        print(
            f"mmcs tensorboard: no Trainer run recorded in {paths.metadata_path}; "
            "run the pipeline first (mmcs run)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    print("Trainer runs, newest first (* is shown):")
    for line in format_runs(runs):
        print(line)
    if args.list:
        return 0
    print(
        f"\nTensorBoard on http://{args.host}:{args.port}/ (Ctrl-C stops it). Scalars: "
        "epoch_loss and epoch_<head>_loss per head (intent, sentiment), "
        "epoch_learning_rate, and the validation curves of the same metrics."
    )
    try:
        return subprocess.call(tensorboard_command(runs[0].log_dir, args.port, args.host))
    except KeyboardInterrupt:
        return 0


def add_parser(commands) -> None:
    """Adds `mmcs tensorboard` to the mmcs subcommands."""
    parser = commands.add_parser(
        "tensorboard", help="TensorBoard on the latest Trainer run (from ML Metadata)"
    )
    parser.add_argument(
        "--out", default="runs/local", help="pipeline root of `mmcs run` (default runs/local)"
    )
    parser.add_argument("--port", type=int, default=6006, help="port to serve on (default 6006)")
    parser.add_argument("--host", default="localhost", help="address to bind (default localhost)")
    parser.add_argument(
        "--list", action="store_true", help="only list the Trainer runs, start nothing"
    )
    parser.set_defaults(func=_cmd_tensorboard)
