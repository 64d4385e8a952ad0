"""What a pipeline run produced, printed for a person: counts, statistics, validation,
evaluation, outputs, and the pushed model's answers (used by `mmcs run` and `mmcs demo`)."""

import math
import os
from pathlib import Path

from models import features


def print_ingestion_summary(summary: dict) -> None:
    print(f"records in:   {summary['records_in']} (from {summary['files']} files)")
    print(
        f"examples out: {summary['examples_out']} "
        + " ".join(f"{k}={v}" for k, v in summary["examples_per_split"].items())
    )
    print(
        f"quarantined:  {summary['quarantined']}"
        + "".join(f"\n  {k}: {v}" for k, v in summary["quarantined_per_reason"].items())
    )


def print_statistics(uri: str) -> None:
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


def print_run_results(out: str) -> None:
    from components.log_example_gen import beam_ingest
    from components.validation_gate import spec as gate_spec
    from pipeline import config, run_outputs

    paths = config.PipelinePaths(out)

    def uris(node):
        return run_outputs.latest_artifact_uris(paths.metadata_path, config.PIPELINE_NAME, node)

    quarantine_uri = uris("LogExampleGen").get("mmcs.QuarantinedLogRecords")
    print("\n=== ingestion (LogExampleGen) ===")
    print_ingestion_summary(beam_ingest.read_summary(quarantine_uri))
    statistics_uri = uris("StatisticsGen").get("ExampleStatistics")
    if statistics_uri:
        print("\n=== statistics (StatisticsGen) ===")
        print_statistics(statistics_uri)
    print("\n=== data validation (ExampleValidator + ValidationGate) ===")
    gate_uri = uris("ValidationGate").get("mmcs.DataValidationResult")
    print(Path(gate_uri, gate_spec.REPORT_FILE).read_text().rstrip())
    print_evaluation(uris("Evaluator"))
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


def print_evaluation(evaluator_uris: dict) -> None:
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
            # With a baseline, TFMA also reports the baseline's values and the differences.
            if key.is_diff or key.model_name == "baseline":
                continue
            if key.name in ("intent_accuracy", "sentiment_accuracy") or (
                key.name in ("f1_score", "recall") and key.aggregation_type.macro_average
            ):
                head = key.output_name.removesuffix("_probabilities")
                macro = "macro " if key.aggregation_type.macro_average else ""
                value = item.value.double_value.value
                shown = "n/a (a class has no eval turns)" if math.isnan(value) else f"{value:.3f}"
                print(f"{head:<10} {macro + key.name:<20} {shown}")
    blessed = bool(blessing) and Path(blessing, "BLESSED").exists()
    print(f"model: {'BLESSED' if blessed else 'NOT BLESSED'}")
    if not blessed:
        for reason in refusal_reasons(tfma.load_validation_result(evaluation)):
            print(f"  {reason}")
        print("  nothing pushed: TF Serving keeps serving the last pushed version")


def refusal_reasons(validation) -> list[str]:
    """Why TFMA's validation refused a model, one line per failed threshold: the overall
    bars and the change against the blessed baseline, with the value and the bar."""
    reasons = []
    for per_slice in validation.metric_validations_per_slice:
        where = _slice_name(per_slice.slice_key)
        for failure in per_slice.failures:
            key, threshold = failure.metric_key, failure.metric_threshold
            value = failure.metric_value.double_value.value
            if key.is_diff:
                allowed = -threshold.change_threshold.absolute.value
                reasons.append(
                    f"{key.name}{where}: {value:+.3f} against the blessed baseline "
                    f"(allowed drop {allowed:.3f})"
                )
            else:
                bound = threshold.value_threshold.lower_bound.value
                reasons.append(f"{key.name}{where}: {value:.3f}, below the bar of {bound:.3f}")
    return reasons or ["TFMA's validation failed without a failed threshold (see its output)"]


def _slice_name(slice_key) -> str:
    """ "" for the whole eval split, else " on column=value, ..." for a TFMA SliceKey."""
    parts = []
    for key in slice_key.single_slice_keys:
        value = getattr(key, key.WhichOneof("kind"))
        parts.append(f"{key.column}={value.decode() if isinstance(value, bytes) else value}")
    return f" on {', '.join(parts)}" if parts else ""


def pick_demo_turns(turns: list) -> list:
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


def print_demo_predictions(logs: str, out: str) -> None:
    """Predictions of the pushed model for a text, an image and a voice-only turn."""
    from pipeline import config
    from serving import batch_predict

    serving_dir = config.PipelinePaths(out).serving_model_dir
    if not os.path.isdir(serving_dir) or not os.listdir(serving_dir):
        print("\nno model pushed yet: nothing to predict with")
        return
    turns, _ = batch_predict.turn_inputs(logs)
    chosen = batch_predict.with_n_best(pick_demo_turns(turns))
    predictor = batch_predict.Predictor(serving_dir)
    print(f"\n=== predictions of the pushed model ({predictor.version_dir}) ===")
    for turn, prediction in zip(chosen, predictor.predict(chosen), strict=True):
        text = turn.values[features.TEXT_KEY].decode() or "-"
        print(f"{turn.turn_id} [{turn.modalities}] text: {text!r} (logged intent {turn.intent})")
        if turn.values[features.TRANSCRIPT_KEY]:
            print(
                f"    heard (speech recognition): {turn.values[features.TRANSCRIPT_KEY].decode()!r}"
            )
            if len(turn.hypotheses) > 1:
                print(
                    f"    answered over {len(turn.hypotheses)} transcripts of the beam search, "
                    f"weights {', '.join(f'{h.weight:.2f}' for h in turn.hypotheses)}"
                )
        if turn.values[features.IMAGE_TEXT_KEY]:
            read = turn.values[features.IMAGE_TEXT_KEY].decode()
            print(f"    read in the picture (OCR): {read[:120]!r}")
        print(
            f"    -> intent {prediction['intent']} (confidence {prediction['confidence']:.2f}, "
            f"out_of_scope {prediction['out_of_scope']}), sentiment {prediction['sentiment']}"
        )
