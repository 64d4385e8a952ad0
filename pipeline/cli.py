"""The `mmcs` command line: corpus, ingest, run, demo."""

import argparse
import logging
import os
import sys
import warnings
from pathlib import Path

EXIT_USAGE = 2
EXIT_FAILED = 1


def _add_beam_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workers", type=int, default=2, help="Beam DirectRunner worker processes (default 2)"
    )
    parser.add_argument(
        "--beam-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="extra Beam pipeline option, e.g. --beam-arg=--runner=FlinkRunner (repeatable)",
    )


def _beam_config(args):
    from pipeline import config

    mode = "multi_processing" if args.workers > 1 else "in_memory"
    return config.BeamConfig(
        workers=max(args.workers, 1), running_mode=mode, extra_args=tuple(args.beam_arg)
    )


def _cmd_corpus(args) -> int:
    from corpus import generator, sources, speech

    config = generator.CorpusConfig(
        size=args.size,
        seed=args.seed,
        split=args.split,
        compact=args.compact,
        workers=args.workers,
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


def _print_summary(summary: dict) -> None:
    print(f"records in:   {summary['records_in']} (from {summary['files']} files)")
    print(
        f"examples out: {summary['examples_out']} "
        + " ".join(f"{k}={v}" for k, v in summary["examples_per_split"].items())
    )
    print(
        f"quarantined:  {summary['quarantined']}"
        + "".join(f"\n  {k}: {v}" for k, v in summary["quarantined_per_reason"].items())
    )


def _cmd_ingest(args) -> int:
    from components.log_example_gen import beam_ingest

    if not os.path.isdir(args.logs):
        print(f"mmcs ingest: {args.logs} is not a folder", file=sys.stderr)
        return EXIT_USAGE
    beam = _beam_config(args)
    try:
        summary = beam_ingest.ingest_folder(
            args.logs, args.out, beam_pipeline_args=tuple(beam.pipeline_args())
        )
    except beam_ingest.IngestError as error:
        print(f"mmcs ingest: {error}", file=sys.stderr)
        return EXIT_FAILED
    _print_summary(summary)
    print(f"wrote {args.out}/Split-*/, {beam_ingest.QUARANTINE_FILE}, {beam_ingest.SUMMARY_FILE}")
    return 0


def _run_pipeline(args) -> int:
    """Runs the pipeline; on failure prints why (the anomalies report for bad data)."""
    from components.log_example_gen import beam_ingest
    from components.validation_gate.executor import DataAnomaliesError
    from pipeline import config, local_runner

    if not os.path.isdir(args.logs):
        print(f"mmcs: {args.logs} is not a folder", file=sys.stderr)
        return EXIT_USAGE
    paths = config.PipelinePaths(os.path.abspath(args.out))
    try:
        local_runner.run_local(
            args.logs, paths, beam=_beam_config(args), enable_cache=not args.no_cache
        )
    except DataAnomaliesError as error:
        print(f"\nmmcs: the pipeline stopped at data validation.\n{error}", file=sys.stderr)
        return EXIT_FAILED
    except beam_ingest.IngestError as error:
        print(f"\nmmcs: ingestion failed: {error}", file=sys.stderr)
        return EXIT_FAILED
    return 0


def _print_statistics(uri: str) -> None:
    """Per split: examples, modality shares and label coverage from the TFDV statistics."""
    import tensorflow_data_validation as tfdv

    from models import features

    shown = (features.HAS_TEXT_KEY, features.HAS_IMAGE_KEY, features.HAS_AUDIO_KEY)
    for split_dir in sorted(Path(uri).glob("Split-*")):
        stats = tfdv.load_stats_binary(str(split_dir / "FeatureStats.pb")).datasets[0]
        by_name = {f.path.step[0]: f for f in stats.features}
        shares = [f"{k.removeprefix('has_')} {by_name[k].num_stats.mean:.0%}" for k in shown]
        labelled = [
            f"{k} {by_name[k].string_stats.common_stats.num_non_missing / stats.num_examples:.0%}"
            for k in features.LABEL_KEYS
            if k in by_name
        ]
        print(
            f"{split_dir.name.removeprefix('Split-'):<6} {stats.num_examples} examples; "
            f"with {', '.join(shares)}; labelled {', '.join(labelled)}"
        )


def _show_results(out: str) -> None:
    from components.log_example_gen import beam_ingest
    from components.validation_gate import spec as gate_spec
    from pipeline import config, run_outputs

    paths = config.PipelinePaths(os.path.abspath(out))

    def uris(node):
        return run_outputs.latest_artifact_uris(paths.metadata_path, config.PIPELINE_NAME, node)

    quarantine_uri = uris("LogExampleGen").get("mmcs.QuarantinedLogRecords")
    print("\n=== ingestion (LogExampleGen) ===")
    _print_summary(beam_ingest.read_summary(quarantine_uri))
    statistics_uri = uris("StatisticsGen").get("ExampleStatistics")
    if statistics_uri:
        print("\n=== statistics (StatisticsGen) ===")
        _print_statistics(statistics_uri)
    print("\n=== data validation (ExampleValidator + ValidationGate) ===")
    gate_uri = uris("ValidationGate").get("mmcs.DataValidationResult")
    print(Path(gate_uri, gate_spec.REPORT_FILE).read_text().rstrip())
    print("\n=== outputs ===")
    for node in ("LogExampleGen", "StatisticsGen", "ExampleValidator"):
        for type_name, uri in sorted(uris(node).items()):
            print(f"{node:<16} {type_name:<28} {uri}")
    print(f"{'ML Metadata':<16} {'sqlite':<28} {paths.metadata_path}")


def _cmd_run(args) -> int:
    code = _run_pipeline(args)
    if code == 0:
        _show_results(args.out)
    return code


def build_parser() -> argparse.ArgumentParser:
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
    corpus.set_defaults(func=_cmd_corpus)

    ingest = commands.add_parser("ingest", help="convert a log folder to tf.Examples (Beam)")
    ingest.add_argument("logs", help="log folder with *.jsonl files")
    ingest.add_argument("--out", required=True, help="output folder")
    _add_beam_args(ingest)
    ingest.set_defaults(func=_cmd_ingest)

    for name, help_text in (
        ("run", "run the TFX pipeline with LocalDagRunner"),
        ("demo", "run the pipeline on a log folder and show the results"),
    ):
        run = commands.add_parser(name, help=help_text)
        run.add_argument("--logs", required=True, help="log folder with *.jsonl files")
        run.add_argument(
            "--out",
            default="runs/local",
            help="pipeline root and metadata folder (default runs/local)",
        )
        run.add_argument("--no-cache", action="store_true", help="re-run every component")
        _add_beam_args(run)
        run.set_defaults(func=_cmd_run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.verbose:
        # TensorFlow, Beam and TFX are chatty; the command prints what matters. Set in the
        # environment so that Beam's worker processes inherit it.
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        os.environ.setdefault("PYTHONWARNINGS", "ignore")
        warnings.simplefilter("ignore")
        logging.getLogger().setLevel(logging.ERROR)
        logging.getLogger("absl").setLevel(logging.ERROR)
    else:
        logging.basicConfig(level=logging.INFO)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
