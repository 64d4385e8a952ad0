"""The `mmcs` command line: corpus, ingest, run, demo."""

import argparse
import logging
import math
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
    profile = config.PROFILES[args.profile]
    try:
        local_runner.run_local(
            args.logs,
            paths,
            beam=_beam_config(args),
            training=profile.training,
            blessing=profile.blessing,
            enable_cache=not args.no_cache,
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
    _print_evaluation(uris("Evaluator"))
    print("\n=== outputs ===")
    for node in (
        "LogExampleGen",
        "StatisticsGen",
        "ExampleValidator",
        "Transform",
        "Trainer",
        "Evaluator",
        "Pusher",
    ):
        for type_name, uri in sorted(uris(node).items()):
            print(f"{node:<16} {type_name:<28} {uri}")
    print(f"{'ML Metadata':<16} {'sqlite':<28} {paths.metadata_path}")
    print(f"{'TF Serving':<16} {'model base directory':<28} {paths.serving_model_dir}")


def _print_evaluation(evaluator_uris: dict) -> None:
    """Overall TFMA metrics of the latest evaluation and the blessing verdict."""
    import tensorflow_model_analysis as tfma

    evaluation = evaluator_uris.get("ModelEvaluation")
    blessing = evaluator_uris.get("ModelBlessing")
    if not evaluation:
        return
    print("\n=== evaluation (Evaluator, eval split) ===")
    for metrics in tfma.load_metrics(evaluation):
        if metrics.slice_key.single_slice_keys:
            continue
        for item in sorted(metrics.metric_keys_and_values, key=lambda m: m.key.name):
            key = item.key
            if key.name in ("intent_accuracy", "sentiment_accuracy") or (
                key.name in ("f1_score", "recall") and key.aggregation_type.macro_average
            ):
                head = key.output_name.removesuffix("_probabilities")
                macro = "macro " if key.aggregation_type.macro_average else ""
                value = item.value.double_value.value
                shown = "n/a (a class has no eval turns)" if math.isnan(value) else f"{value:.3f}"
                print(f"{head:<10} {macro + key.name:<20} {shown}")
    verdict = "BLESSED" if blessing and Path(blessing, "BLESSED").exists() else "NOT BLESSED"
    print(f"model: {verdict}")


def _pick_demo_turns(turns: list) -> list:
    """Banking turns of the eval split: text only, a picture with (at most) a vague line,
    and voice only."""
    from components.log_example_gen import beam_ingest
    from models import features

    eval_index = [s.name for s in beam_ingest.DEFAULT_SPLITS].index("eval")
    candidates = [
        t
        for t in turns
        if t.intent not in (None, features.OUT_OF_SCOPE_INTENT)
        and beam_ingest.split_of_session(t.session_id, beam_ingest.DEFAULT_SPLITS) == eval_index
    ]

    def first(predicate):
        return next((turn for turn in candidates if predicate(turn)), None)

    picks = [
        first(lambda t: t.modalities == "text"),
        first(lambda t: t.modalities == "image+text" and len(t.values["text"].split()) <= 4)
        or first(lambda t: "image" in t.modalities),
        first(lambda t: t.modalities == "audio"),
    ]
    return [turn for turn in picks if turn is not None]


def _print_demo_predictions(logs: str, out: str) -> None:
    """Predictions of the pushed model for a text, an image and a voice-only turn."""
    from pipeline import config
    from serving import batch_predict

    serving_dir = config.PipelinePaths(os.path.abspath(out)).serving_model_dir
    if not os.path.isdir(serving_dir) or not os.listdir(serving_dir):
        print("\nno model pushed yet: nothing to predict with")
        return
    turns, _ = batch_predict.turn_inputs(logs)
    chosen = _pick_demo_turns(turns)
    predictor = batch_predict.Predictor(serving_dir)
    print(f"\n=== predictions of the pushed model ({predictor.version_dir}) ===")
    for turn, prediction in zip(chosen, predictor.predict(chosen), strict=True):
        text = turn.values["text"].decode() or "-"
        print(f"{turn.turn_id} [{turn.modalities}] text: {text!r} (logged intent {turn.intent})")
        print(
            f"    -> intent {prediction['intent']} (confidence {prediction['confidence']:.2f}, "
            f"out_of_scope {prediction['out_of_scope']}), sentiment {prediction['sentiment']}"
        )


def _cmd_run(args) -> int:
    code = _run_pipeline(args)
    if code == 0:
        _show_results(args.out)
        if args.command == "demo":
            _print_demo_predictions(args.logs, args.out)
    return code


def _cmd_predict(args) -> int:
    from serving import batch_predict

    try:
        counts = batch_predict.predict_folder(args.model, args.logs, args.out)
    except FileNotFoundError as error:
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
        _add_beam_args(run)
        run.set_defaults(func=_cmd_run)

    predict = commands.add_parser("predict", help="run a pushed model over a log folder")
    predict.add_argument(
        "--model", required=True, help="a SavedModel or a model base directory (newest version)"
    )
    predict.add_argument("--logs", required=True, help="log folder with *.jsonl files")
    predict.add_argument("--out", required=True, help="JSONL file, one prediction per turn")
    predict.set_defaults(func=_cmd_predict)
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
        logging.getLogger("absl").setLevel(logging.ERROR)
    else:
        logging.basicConfig(level=logging.INFO)
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
