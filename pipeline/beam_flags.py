"""The Beam flags of the `mmcs` commands that run Beam: ingest, run, demo and compile.

One definition of --runner, --workers and --beam-arg, checked by
`config.BeamConfig.pipeline_args` (which refuses, among others, an option without its
leading `--` that Beam would drop with a log warning only), so `mmcs run` and
`mmcs compile` accept and refuse the same things.
"""

import argparse

from pipeline import config


def add_arguments(parser: argparse.ArgumentParser, *, runner_help: str, example: str) -> None:
    """Adds --runner, --workers and --beam-arg.

    Args:
      parser: the command's parser.
      runner_help: what the runner profile applies to, first words of --runner's help.
      example: a Beam option shown in --beam-arg's help, e.g. "--runner=FlinkRunner".
    """
    parser.add_argument(
        "--runner",
        choices=sorted(config.RUNNER_PROFILES),
        default="direct",
        help=f"{runner_help} (default direct); its options go in --beam-arg: "
        + "; ".join(f"{p.name}: {p.description}" for p in config.RUNNER_PROFILES.values()),
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="Beam DirectRunner worker processes (default 2)"
    )
    parser.add_argument(
        "--beam-arg",
        action="append",
        default=[],
        metavar="ARG",
        help=f"extra Beam pipeline option, e.g. --beam-arg={example} (repeatable)",
    )


def beam_config(args: argparse.Namespace) -> config.BeamConfig:
    """The BeamConfig of parsed --runner, --workers and --beam-arg flags.

    Raises:
      ValueError: the flags' values fail `config.BeamConfig.pipeline_args`'s checks (the
        message names the flag).
    """
    beam = config.BeamConfig(
        workers=args.workers,
        running_mode="multi_processing" if args.workers > 1 else "in_memory",
        extra_args=tuple(args.beam_arg),
        runner=args.runner,
    )
    beam.pipeline_args()
    return beam
