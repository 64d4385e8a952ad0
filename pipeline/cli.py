"""The `mmcs` command line: corpus, ingest, run, demo, predict."""

import argparse
import logging
import os
import sys
import warnings

from pipeline import compile_cli, run_report, tensorboard_cli
from serving.chat import cli as chat_cli
from serving.model_server import cli as model_server_cli

EXIT_USAGE = 2
EXIT_FAILED = 1


def _add_beam_args(parser: argparse.ArgumentParser) -> None:
    from pipeline import beam_flags

    beam_flags.add_arguments(
        parser, runner_help="Beam runner profile", example="--runner=FlinkRunner"
    )


def _cmd_corpus(args) -> int:
    from corpus import generator, sources, speech

    config = generator.CorpusConfig(
        size=args.size,
        seed=args.seed,
        split=args.split,
        compact=args.compact,
        workers=args.workers,
        typed_copies=args.typed_copies,
    )
    try:
        manifest = generator.generate_corpus(args.banking77, args.shared_data, args.out, config)
    except (sources.SourceDataError, speech.SpeechToolsMissingError, ValueError) as error:
        print(f"mmcs corpus: {error}", file=sys.stderr)
        return EXIT_USAGE
    print(
        f"wrote {manifest['turns']} turns in {manifest['sessions']} sessions to {args.out} "
        f"({manifest['bytes'] / 1e6:.1f} MB)"
    )
    print("modalities: " + ", ".join(f"{k} {v}" for k, v in manifest["modalities"].items()))
    return 0


def _cmd_ingest(args) -> int:
    from components.log_example_gen import beam_ingest
    from pipeline import beam_flags

    if not os.path.isdir(args.logs):
        print(f"mmcs ingest: {args.logs} is not a folder", file=sys.stderr)
        return EXIT_USAGE
    try:
        beam = beam_flags.beam_config(args)
    except ValueError as error:
        print(f"mmcs ingest: {error}", file=sys.stderr)
        return EXIT_USAGE
    try:
        summary = beam_ingest.ingest_folder(
            args.logs, args.out, beam_pipeline_args=tuple(beam.pipeline_args())
        )
    except beam_ingest.IngestError as error:
        print(f"mmcs ingest: {error}", file=sys.stderr)
        return EXIT_FAILED
    run_report.print_ingestion_summary(summary)
    print(f"wrote {args.out}/Split-*/, {beam_ingest.QUARANTINE_FILE}, {beam_ingest.SUMMARY_FILE}")
    return 0


def _run_pipeline(args) -> int:
    """Runs the pipeline; on failure prints why (the anomalies report for bad data)."""
    from components.log_example_gen import beam_ingest
    from components.validation_gate.executor import DataAnomaliesError
    from pipeline import beam_flags, config, local_runner

    if not os.path.isdir(args.logs):
        print(f"mmcs: {args.logs} is not a folder", file=sys.stderr)
        return EXIT_USAGE
    paths = config.PipelinePaths(args.out)
    profile = config.PROFILES[args.profile]
    try:
        beam = beam_flags.beam_config(args)
    except ValueError as error:
        print(f"mmcs: {error}", file=sys.stderr)
        return EXIT_USAGE
    if args.span_window < 1:
        print(f"mmcs: --span-window must be at least 1, not {args.span_window}", file=sys.stderr)
        return EXIT_USAGE
    try:
        local_runner.run_local(
            args.logs,
            paths,
            beam=beam,
            training=profile.training,
            blessing=profile.blessing,
            split=profile.split,
            enable_cache=not args.no_cache,
            span_window=args.span_window,
        )
    except DataAnomaliesError as error:
        print(f"\nmmcs: the pipeline stopped at data validation.\n{error}", file=sys.stderr)
        return EXIT_FAILED
    except beam_ingest.IngestError as error:
        print(f"\nmmcs: ingestion failed: {error}", file=sys.stderr)
        return EXIT_FAILED
    return 0


def _cmd_run(args) -> int:
    code = _run_pipeline(args)
    if code == 0:
        run_report.print_run_results(args.out)
        if args.command == "demo":
            run_report.print_demo_predictions(args.logs, args.out)
    return code


def _cmd_predict(args) -> int:
    from serving import batch_predict

    try:
        counts = batch_predict.predict_folder(
            args.model, args.logs, args.out, use_n_best=not args.one_best
        )
    except (FileNotFoundError, ValueError) as error:
        print(f"mmcs predict: {error}", file=sys.stderr)
        return EXIT_USAGE
    print(f"wrote {counts['predicted']} predictions to {args.out}")
    if counts["rejected"]:
        print(
            f"{counts['rejected']} records could not be converted: {counts['rejected_per_reason']}"
        )
    return 0


def build_parser() -> argparse.ArgumentParser:
    from pipeline import config

    parser = argparse.ArgumentParser(prog="mmcs", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="show TFX and Beam logs")
    commands = parser.add_subparsers(dest="command", required=True)

    corpus = commands.add_parser("corpus", help="render a multimodal log folder from BANKING77")
    corpus.add_argument("--banking77", required=True, help="CSV with text,category columns")
    corpus.add_argument(
        "--shared-data",
        default="../shared/data",
        help="folder with clinc150/ and sentiment/ (default ../shared/data)",
    )
    corpus.add_argument("--out", required=True, help="log folder to write (replaced)")
    corpus.add_argument(
        "--size", type=int, default=None, help="about how many turns (default: every CSV row)"
    )
    corpus.add_argument("--seed", type=int, default=0)
    corpus.add_argument(
        "--split",
        choices=["train", "test"],
        default="train",
        help="test: held-out OOS/sentiment partitions and voices",
    )
    corpus.add_argument(
        "--compact",
        action="store_true",
        help="small pictures and low-rate audio (for the committed sample)",
    )
    corpus.add_argument("--workers", type=int, default=2, help="rendering processes")
    corpus.add_argument(
        "--typed-copies",
        action="store_true",
        help="also type every voice or picture query, as a chat follow-up in its session",
    )
    corpus.set_defaults(func=_cmd_corpus)

    ingest = commands.add_parser("ingest", help="convert a log folder to tf.Examples (Beam)")
    ingest.add_argument("logs", help="log folder with *.jsonl files")
    ingest.add_argument("--out", required=True, help="output folder")
    _add_beam_args(ingest)
    ingest.set_defaults(func=_cmd_ingest)

    for name, help_text, profile in (
        ("run", "run the TFX pipeline with LocalDagRunner", "full"),
        ("demo", "run the pipeline on a log folder and show the results", "sample"),
    ):
        run = commands.add_parser(name, help=help_text)
        run.add_argument(
            "--profile",
            choices=sorted(config.PROFILES),
            default=profile,
            help=f"training effort and blessing bar (default {profile})",
        )
        run.add_argument("--logs", required=True, help="log folder with *.jsonl files")
        run.add_argument(
            "--out",
            default="runs/local",
            help="pipeline root and metadata folder (default runs/local)",
        )
        run.add_argument("--no-cache", action="store_true", help="re-run every component")
        run.add_argument(
            "--span-window",
            type=int,
            default=config.DEFAULT_SPAN_WINDOW,
            metavar="N",
            help="train on the newest N validated spans (day folders) of --logs "
            f"(default {config.DEFAULT_SPAN_WINDOW})",
        )
        _add_beam_args(run)
        run.set_defaults(func=_cmd_run)

    predict = commands.add_parser("predict", help="run a pushed model over a log folder")
    predict.add_argument(
        "--model", required=True, help="a SavedModel or a model base directory (newest version)"
    )
    predict.add_argument("--logs", required=True, help="log folder with *.jsonl files")
    predict.add_argument("--out", required=True, help="JSONL file, one prediction per turn")
    predict.add_argument(
        "--one-best",
        action="store_true",
        help="send each turn with audio once, with its best transcript only (by default it "
        "is answered over the speech recognizer's n-best transcripts, as in the chat service)",
    )
    predict.set_defaults(func=_cmd_predict)
    model_server_cli.add_parser(commands)
    chat_cli.add_parser(commands)
    compile_cli.add_parser(commands)
    tensorboard_cli.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    verbose = "-v" in argv or "--verbose" in argv
    if not verbose:
        # TensorFlow, Beam and TFX are chatty; the command prints what matters. Set in the
        # environment so that Beam's worker processes inherit it.
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        os.environ.setdefault("PYTHONWARNINGS", "ignore")
        warnings.simplefilter("ignore")
        logging.getLogger().setLevel(logging.ERROR)
        for name in ("absl", "tensorflow"):
            logging.getLogger(name).setLevel(logging.ERROR)
    else:
        logging.basicConfig(level=logging.INFO)
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
