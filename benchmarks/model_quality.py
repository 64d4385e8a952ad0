"""Model quality on the multimodal BANKING77 test split, per modality combination, with
ablations, and training throughput in the TFX Trainer against a bare Keras loop.

Trains through the real pipeline (LocalDagRunner) on the corpus rendered from BANKING77's
train.csv, then predicts with each pushed model through `serving_default` on the corpus
rendered from test.csv (held-out voices, CLINC150's out-of-scope test queries):

  python -m benchmarks.model_quality --shared-data ../shared/data --out benchmarks/results

`--train-size/--test-size/--epochs` shrink the run for a quick check of the script itself;
only a full run (the defaults) is comparable with the published reference points.
`--update` re-runs only the models named by `--models` and keeps the others of the report
already in `--out`; the report names each model's training recipe (epochs, learning-rate
schedule, fine-tuned text-encoder layers, speech decoding), so models trained with
different recipes are never mixed up silently. Every model starts from the `full`
profile's training settings (pipeline/config.py); the flags override some of them.
"""

import argparse
import dataclasses
import datetime
import json
import os
import re
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import accuracy_score, f1_score

import schemas
from benchmarks import trainer_throughput
from benchmarks.corpora import rendered_corpus
from benchmarks.plots import grouped_bar_chart
from models import derived_text_versions, features, signatures
from models.fusion_model import TEXT_ENCODER_FEEDS
from models.learning_rate import SCHEDULES
from models.served_intent import MIX_SCOPES, TEXT_ONLY
from models.trainer import TRAINING_METRICS_FILE
from models.training_config import TrainingConfig
from pipeline import config, local_runner, run_outputs
from pipeline.evaluation import NO_GATE
from serving import batch_predict

# Published BANKING77 full-data intent accuracy (Casanueva et al. 2020).
REFERENCE_ACCURACY = {"BERT-large fine-tuned": 0.9366, "USE+ConveRT": 0.9336}
# In-scope turns wrongly flagged out of scope, at which out-of-scope recall is reported.
FALSE_REJECTION_RATE = 0.05
# Voice is the audio and its speech transcript, a picture the pixels and the text read in
# it (docs/model.md), in the fused model and in the single-modality ablations;
# "fused_no_transcript" and "fused_no_image_text" measure what speech and text recognition
# add.
ABLATIONS = {
    "fused": ("text", "image", "audio", "transcript", "image_text"),
    "text_only": ("text",),
    "image_only": ("image", "image_text"),
    "audio_only": ("audio", "transcript"),
    "fused_no_transcript": ("text", "image", "audio", "image_text"),
    "fused_no_image_text": ("text", "image", "audio", "transcript"),
}
# The combinations the issue names, as models/features.py spells them.
REPORTED_COMBINATIONS = ("text", "image+text", "image+vague_text", "audio", "image+audio+text")


TRAINING_INFO_FILE = "training_info.json"


def _train(
    corpus: Path, root: Path, training: TrainingConfig, split: config.SplitBuckets, reuse: bool
) -> tuple[str, dict]:
    paths = config.PipelinePaths(str(root))
    info_path = root / TRAINING_INFO_FILE
    if reuse and info_path.exists():
        info = json.loads(info_path.read_text())
        # Only a model trained with exactly these settings, on transcripts and picture texts
        # of the installed recognizers, is reused.
        if (
            info["trainer"]["config"] == training.to_custom_config()
            and info.get("derived_text_recognizers") == derived_text_versions.installed()
        ):
            return paths.serving_model_dir, info
    start = time.perf_counter()
    local_runner.run_local(
        str(corpus),
        paths,
        beam=config.BeamConfig(),
        training=training,
        blessing=NO_GATE,
        split=split,
    )
    wall = time.perf_counter() - start
    run_dir = run_outputs.latest_artifact_uris(
        paths.metadata_path, config.PIPELINE_NAME, "Trainer"
    )["ModelRun"]
    metrics = json.loads(Path(run_dir, TRAINING_METRICS_FILE).read_text())
    info = {
        "pipeline_seconds": wall,
        "derived_text_recognizers": derived_text_versions.installed(),
        "split": str(split),
        "trainer": metrics,
    }
    info_path.write_text(json.dumps(info, indent=2) + "\n")
    return paths.serving_model_dir, info


def _combination(turn: batch_predict.TurnInputs, vague_texts: set[str]) -> str:
    parts = turn.modalities.split(features.MODALITY_SEPARATOR)
    if "text" in parts and turn.values["text"].decode() in vague_texts:
        parts[parts.index("text")] = "vague_text"
    return features.MODALITY_SEPARATOR.join(parts)


def intent_scores(turns, predictions) -> dict:
    """Intent scores of labelled turns.

    `intent_accuracy` and `intent_macro_f1` count every labelled turn, out-of-scope ones
    included, with the served answer (`intent`: out_of_scope below the calibrated
    threshold). BANKING77's published figures have no out-of-scope class: a classifier
    picks one of the 77 intents. `in_scope_accuracy` is that setting: the best in-scope
    intent on the in-scope turns, no rejection; `in_scope_served_accuracy` is the served
    answer on the same turns (a false out-of-scope flag counts as an error).
    """
    intents = schemas.intent_labels()
    oos = intents.index(features.OUT_OF_SCOPE_INTENT)
    labelled = [(t, p) for t, p in zip(turns, predictions, strict=True) if t.intent]
    truth = [t.intent for t, _ in labelled]
    guess = [p[signatures.INTENT_OUTPUT] for _, p in labelled]
    result = {
        "turns": len(labelled),
        "intent_accuracy": accuracy_score(truth, guess) if labelled else None,
        "intent_macro_f1": (
            f1_score(truth, guess, average="macro", zero_division=0) if labelled else None
        ),
    }
    if not labelled:
        return result
    probabilities = np.array([p[signatures.INTENT_PROBABILITIES_OUTPUT] for _, p in labelled])
    in_scope_probabilities = np.delete(probabilities, oos, axis=1)
    is_oos = np.array([t == features.OUT_OF_SCOPE_INTENT for t in truth])
    if (~is_oos).any():
        in_scope_names = [name for i, name in enumerate(intents) if i != oos]
        best = [in_scope_names[i] for i in in_scope_probabilities.argmax(axis=1)]
        chosen = np.flatnonzero(~is_oos)
        result["in_scope_turns"] = int(len(chosen))
        result["in_scope_accuracy"] = float(np.mean([best[i] == truth[i] for i in chosen]))
        result["in_scope_served_accuracy"] = float(np.mean([guess[i] == truth[i] for i in chosen]))
    # Out-of-scope score: 1 - the answer's confidence, what the served threshold reads. It
    # is the best in-scope intent's probability, except for turns answered over n-best
    # transcripts, whose confidence stays the best transcript's (serving/n_best.py).
    score = 1.0 - np.array([p[signatures.CONFIDENCE_OUTPUT] for _, p in labelled])
    if is_oos.any() and (~is_oos).any():
        threshold = np.quantile(score[~is_oos], 1.0 - FALSE_REJECTION_RATE)
        result["oos_recall_at_5pct_frr"] = float((score[is_oos] > threshold).mean())
        result["oos_turns"] = int(is_oos.sum())
        # What the served model's own threshold (calibrated on the eval split) did.
        served_oos = np.array([g == features.OUT_OF_SCOPE_INTENT for g in guess])
        result["served_oos_recall"] = float(served_oos[is_oos].mean())
        result["served_false_rejection_rate"] = float(served_oos[~is_oos].mean())
    return result


def best_in_scope_intents(predictions: list[dict]) -> list[str]:
    """Each prediction's most probable intent among the 77 (out_of_scope left out)."""
    intents = schemas.intent_labels()
    oos = intents.index(features.OUT_OF_SCOPE_INTENT)
    probabilities = np.array([p[signatures.INTENT_PROBABILITIES_OUTPUT] for p in predictions])
    probabilities[:, oos] = -1.0
    return [intents[i] for i in probabilities.argmax(axis=1)]


def turn_records(turns: list, vague_texts: set[str]) -> dict:
    """The test corpus's turns as the report keeps them, in prediction order: what each
    model's `answers` line up with (benchmarks/paired_turns.py compares two models turn by
    turn from them)."""
    return {
        "turn_ids": [t.turn_id for t in turns],
        "intents": [t.intent for t in turns],
        "combinations": [_combination(t, vague_texts) for t in turns],
    }


def _evaluate(serving_dir: str, turns: list, combinations: list[str]) -> dict:
    """Scores of one pushed model on the test turns; `combinations`: each turn's modality
    combination (turn_records)."""
    predictor = batch_predict.Predictor(serving_dir)
    derived_text_versions.check_model(predictor.version_dir)
    start = time.perf_counter()
    predictions = predictor.predict(turns)
    seconds = time.perf_counter() - start
    by_combination = {}
    for combination in sorted(set(combinations)):
        chosen = [i for i, c in enumerate(combinations) if c == combination]
        by_combination[combination] = intent_scores(
            [turns[i] for i in chosen], [predictions[i] for i in chosen]
        )
    return {
        # The pushed version (its name is the push time): which training a score is of.
        "model_version": os.path.basename(predictor.version_dir.rstrip("/")),
        "overall": intent_scores(turns, predictions),
        "by_combination": by_combination,
        "predict_turns_per_second": len(turns) / seconds,
        # Each turn's answers, in the order of the report's `test_turns`.
        "answers": {
            "best_in_scope": best_in_scope_intents(predictions),
            "served": [p[signatures.INTENT_OUTPUT] for p in predictions],
        },
    }


BARE_KERAS_INFO_FILE = "bare_keras_info.json"


def _bare_keras_throughput(root: Path, training: TrainingConfig, reuse: bool) -> dict:
    """The Trainer's own train() on the same artifacts, outside TFX (no launcher, no MLMD),
    for `training.epochs` epochs; with `reuse`, what an earlier run of it measured.
    (`benchmarks.trainer_throughput` measures the two in alternating runs.)"""
    run_dir = root / "bare_keras_run"
    info_path = run_dir / BARE_KERAS_INFO_FILE
    if reuse and info_path.exists():
        info = json.loads(info_path.read_text())
        if len(info["epochs"]) == training.epochs:
            return info
    info = trainer_throughput.bare_keras_run(root, training, run_dir)
    info_path.write_text(json.dumps(info, indent=2) + "\n")
    return info


def _training_config(args, modalities: tuple[str, ...]) -> TrainingConfig:
    """The `full` profile's training settings with the benchmark's overrides."""
    full = config.PROFILES["full"].training
    # Only models that read typed text can have the auxiliary text intent head; it reads
    # those of the asked-for sources the model has.
    sources = tuple(source for source in args.text_intent_sources if source in modalities)
    with_head = "text" in modalities and bool(sources)
    training = dataclasses.replace(
        full,
        model=dataclasses.replace(
            full.model,
            modalities=modalities,
            trainable_text_layers=_text_layers(args.trainable_text_layers),
            seed=args.seed,
        ),
        epochs=args.epochs,
        learning_rate_schedule=args.learning_rate_schedule,
        text_learning_rate_scale=args.text_learning_rate_scale,
        text_layer_rate_decay=args.text_layer_rate_decay,
        text_intent_loss_weight=args.text_intent_loss_weight if with_head else 0.0,
        text_intent_sources=sources if with_head else full.text_intent_sources,
        text_intent_serving_weight=0.0,
        ema_momentum=args.ema_momentum,
        label_smoothing=args.label_smoothing,
    )
    # The serving mix reads the head on typed text: only models that have it get it.
    if "text" in training.auxiliary_intent_sources:
        training = dataclasses.replace(
            training,
            text_intent_serving_weight=args.text_intent_serving_weight,
            text_intent_serving_scope=args.text_intent_serving_scope,
        )
    return training


def _text_layers(value: str) -> int | None:
    """--trainable-text-layers: "all" or a number of top layers."""
    return None if value == "all" else int(value)


def _text_layers_flag(layers: int | None) -> str:
    """The --trainable-text-layers spelling of a setting: "all" for None."""
    return "all" if layers is None else str(layers)


def _root_name(
    name: str,
    train_size: int | None,
    training: TrainingConfig,
    typed_copies: bool = False,
    split: config.SplitBuckets = config.SplitBuckets(),
) -> str:
    """The pipeline root of one model: a different recipe, training corpus or split never
    reuses another's runs."""
    layers = _text_layers_flag(training.model.trainable_text_layers)
    split_suffix = "" if split == config.SplitBuckets() else f"-split{split.train}x{split.eval}"
    return (
        f"quality-{name}-{train_size or 'full'}{'-typed' if typed_copies else ''}"
        f"-e{training.epochs}"
        f"-{training.learning_rate_schedule}-text{layers}{_text_rates_suffix(training)}"
        f"{_text_intent_suffix(training)}{split_suffix}"
        f"{f'-ema{training.ema_momentum:g}' if training.ema_momentum else ''}"
        f"{f'-smooth{training.label_smoothing:g}' if training.label_smoothing else ''}"
        f"{'' if training.model.seed is None else f'-seed{training.model.seed}'}"
    )


def pushed_model_dir(work: Path, name: str) -> str:
    """Where this benchmark, run with its default flags, pushes model `name`."""
    args = _parser().parse_args([])
    training = _training_config(args, ABLATIONS[name])
    root = _root_name(name, None, training, split=args.split)
    return config.PipelinePaths(str(work / root)).serving_model_dir


def _text_rates_suffix(training: TrainingConfig) -> str:
    """ "-rate0.3x0.9" for a text backbone trained at other rates than the rest, else ""."""
    scale, decay = training.text_learning_rate_scale, training.text_layer_rate_decay
    return "" if scale == decay == 1.0 else f"-rate{scale:g}x{decay:g}"


def _text_intent_suffix(training: TrainingConfig) -> str:
    """ "-textaux0.5" for a model trained with the auxiliary text intent head on typed text,
    "-textaux0.5-text+transcript" on other sources too, else ""."""
    sources = training.auxiliary_intent_sources
    if not sources:
        return ""
    named = "" if sources == ("text",) else "-" + "+".join(sources)
    return f"-textaux{training.text_intent_loss_weight:g}{named}"


def _examples_per_second(epochs: list[dict], epoch: int) -> float:
    """Examples per second of one epoch (the first one also decodes and caches the inputs,
    so both sides are compared on the same epoch)."""
    return epochs[epoch]["examples_per_second_upper_bound"]


def run(args) -> dict:
    """Runs the benchmark; writes model_quality.json and .md under args.out."""
    train_corpus, train_manifest = rendered_corpus(
        args.shared_data, args.work, "train", args.train_size, args.typed_copies
    )
    test_corpus, test_manifest = rendered_corpus(
        args.shared_data, args.work, "test", args.test_size
    )
    # Turns with audio are answered over the recognizer's n-best transcripts, as the chat
    # service and `mmcs predict` answer them (serving/n_best.py), unless --one-best.
    turns, rejected = batch_predict.turn_inputs(
        str(test_corpus), n_best_transcripts=not args.one_best
    )
    from corpus.session_plan import VAGUE_TEXTS

    test_turns = turn_records(turns, set(VAGUE_TEXTS))
    results = {}
    kept = {}
    if args.update and (args.out / "model_quality.json").exists():
        kept = json.loads((args.out / "model_quality.json").read_text())["models"]
        results = {name: result for name, result in kept.items() if name not in args.models}
    for name in args.models:
        modalities = ABLATIONS[name]
        training = _training_config(args, modalities)
        root = args.work / _root_name(
            name, args.train_size, training, args.typed_copies, args.split
        )
        serving_dir, training_info = _train(
            train_corpus, root, training, args.split, args.reuse_trained
        )
        results[name] = {
            "modalities": list(modalities),
            "training": training_info,
            **_evaluate(serving_dir, turns, test_turns["combinations"]),
        }
        if name == "fused" and args.bare_keras_epochs > 0:
            epochs = min(args.bare_keras_epochs, args.epochs)
            bare = _bare_keras_throughput(
                root, dataclasses.replace(training, epochs=epochs), args.reuse_trained
            )
            tfx_rate = _examples_per_second(training_info["trainer"]["epochs"], epochs - 1)
            bare_rate = _examples_per_second(bare["epochs"], epochs - 1)
            results[name]["throughput"] = {
                "epoch_compared": epochs,
                "tfx_trainer_examples_per_second": tfx_rate,
                "bare_keras_examples_per_second": bare_rate,
                "tfx_vs_bare_ratio": tfx_rate / bare_rate,
                "bare_keras_seconds": bare["seconds"],
            }
        elif name == "fused" and kept.get("fused", {}).get("throughput"):
            # Not measured again: the earlier figure stays, naming the model it was of.
            earlier = kept["fused"]
            results[name]["throughput"] = {
                **earlier["throughput"],
                "measured_on": earlier["throughput"].get(
                    "measured_on", f"{_recipe(earlier)}, version {earlier['model_version']}"
                ),
            }
        # Written after every model, so a long run leaves its finished part behind.
        _write_report(args, train_manifest, test_manifest, rejected, test_turns, results)
    return _write_report(args, train_manifest, test_manifest, rejected, test_turns, results)


def _write_report(args, train_manifest, test_manifest, rejected, test_turns, results) -> dict:
    # Fused first, then the ablations, whichever were re-run (--update).
    results = {name: results[name] for name in ABLATIONS if name in results}
    fused = results.get("fused", {}).get("by_combination", {})
    text_accuracy = fused.get("text", {}).get("in_scope_accuracy")
    voice_accuracy = fused.get("audio", {}).get("in_scope_accuracy")
    report = {
        "benchmark": "model_quality",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "full_run": args.train_size is None and args.test_size is None,
        "train_corpus": {
            "turns": train_manifest["turns"],
            "modalities": train_manifest["modalities"],
            "typed_copies": train_manifest["config"].get("typed_copies", False),
        },
        "test_corpus": {
            "turns": test_manifest["turns"],
            "modalities": test_manifest["modalities"],
            "rejected": len(rejected),
            "turns_with_audio_answered_over": (
                "best transcript" if args.one_best else "n-best transcripts"
            ),
        },
        "test_turns": test_turns,
        "reference_accuracy": REFERENCE_ACCURACY,
        # On in-scope turns, best in-scope intent: the published figures' setting.
        "targets": {
            "text_in_scope_accuracy": text_accuracy,
            "voice_in_scope_accuracy": voice_accuracy,
            "text_accuracy_above_reference": (
                text_accuracy is not None
                and text_accuracy > REFERENCE_ACCURACY["BERT-large fine-tuned"]
            ),
            "voice_over_text_ratio": (
                voice_accuracy / text_accuracy if text_accuracy and voice_accuracy else None
            ),
        },
        "models": results,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "model_quality.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / "model_quality.svg").write_text(_plot(report))
    (args.out / "model_quality.md").write_text(_markdown(report))
    return report


def _plot(report: dict) -> str:
    """SVG: intent accuracy per modality combination, one bar per model."""
    groups = ["overall", *REPORTED_COMBINATIONS]
    series = {}
    for name, result in report["models"].items():
        scores = [result["overall"], *(result["by_combination"].get(c, {}) for c in groups[1:])]
        series[name] = [100 * (s.get("intent_accuracy") or 0.0) for s in scores]
    return grouped_bar_chart(
        "Intent accuracy (%) on the test corpus", groups, series, reference=93.66
    )


def _pushed_at(version: str | None) -> str:
    if not version or not version.isdigit():
        return ""
    when = datetime.datetime.fromtimestamp(int(version), datetime.timezone.utc)
    return f" (version {version}, pushed {when:%Y-%m-%d %H:%M})"


_DECODING_NAME = re.compile(r"beam\d+(-prompt[0-9a-f]+)?")


def _recipe(result: dict) -> str:
    """How a model of the report was trained: epochs, learning-rate schedule, fine-tuned
    text-encoder layers, speech decoding and train/eval split (models trained before the
    schedule setting existed used a constant rate; before the decoding was recorded,
    greedy decoding)."""
    trained = result["training"]["trainer"]["config"]
    schedule = trained.get("learning_rate_schedule", "constant")
    layers = _text_layers_flag(trained["model"].get("trainable_text_layers"))
    # speech_recognition.Decoding.name, inside the recorded recognizer versions.
    decoding = _DECODING_NAME.search(result["training"].get("derived_text_recognizers", ""))
    scale = trained.get("text_learning_rate_scale", 1.0)
    decay = trained.get("text_layer_rate_decay", 1.0)
    text_rates = (
        ""
        if scale == decay == 1.0
        else f" at {scale:g} of the rate (top layer), x{decay:g} per lower layer"
    )
    text_intent = trained.get("text_intent_loss_weight", 0.0)
    sources = trained.get("text_intent_sources", ["text"])
    auxiliary = (
        f", auxiliary text intent loss x{text_intent:g} ({', '.join(sources)})"
        if text_intent > 0
        else ""
    )
    serving_weight = trained.get("text_intent_serving_weight", 0.0)
    if serving_weight:
        turns = (
            "text-only turns"
            if trained.get("text_intent_serving_scope") == TEXT_ONLY
            else "typed turns"
        )
        auxiliary += f", served intent {serving_weight:g} from the typed-text head on {turns}"
    ema = trained.get("ema_momentum", 0.0)
    averaged = f", weights averaged (EMA momentum {ema:g})" if ema else ""
    smoothing = trained.get("label_smoothing", 0.0)
    smoothed = f", label smoothing {smoothing:g}" if smoothing else ""
    seed = trained["model"].get("seed")
    seeded = "" if seed is None else f", seed {seed}"
    # Runs from before the split setting used LogExampleGen's default, 2:1.
    split = result["training"].get("split", str(config.SplitBuckets()))
    return (
        f"{trained['epochs']} epochs, {schedule} learning rate from "
        f"{trained['learning_rate']:g}, {layers} text-encoder layers fine-tuned{text_rates}"
        f"{auxiliary}{averaged}{smoothed}{seeded}, "
        f"{decoding.group(0) if decoding else 'greedy'} speech decoding, "
        f"sessions split {split} train:eval"
    )


# The target for voice-only turns: at least this share of the text-turn accuracy.
VOICE_OVER_TEXT_TARGET = 0.85


def _ratio_against_target(ratio: float | None) -> str:
    """ "0.847 (target >= 0.85: missed)": three decimals, so rounding never hides a miss."""
    if ratio is None:
        return "-"
    verdict = "met" if ratio >= VOICE_OVER_TEXT_TARGET else "missed"
    return f"{ratio:.3f} (target >= {VOICE_OVER_TEXT_TARGET}: {verdict})"


def _pair(scores: dict, pct) -> str:
    return f"{pct(scores.get('intent_accuracy'))} / {pct(scores.get('intent_macro_f1'))}"


def _markdown(report: dict) -> str:
    def pct(value):
        return "-" if value is None else f"{100 * value:.1f}"

    lines = [
        "# Model quality",
        "",
        f"{report['date']}; "
        f"{'full run' if report['full_run'] else 'REDUCED run (script check only)'}. "
        f"Test corpus: {report['test_corpus']['turns']} turns "
        "rendered from BANKING77 test.csv and CLINC150 out-of-scope test queries, held-out voices"
        + (
            f"; turns with audio answered over the {answered}. "
            if (answered := report["test_corpus"].get("turns_with_audio_answered_over"))
            else ". "
        )
        + f"Training corpus: {report['train_corpus']['turns']} turns from train.csv"
        + (
            ", every voice or picture query also typed as a chat follow-up (typed copies)."
            if report["train_corpus"].get("typed_copies")
            else "."
        ),
        "",
        "Models (the modalities each reads; how it was trained; pushed version = push time, UTC):",
        "",
        *(
            f"- {name}: {', '.join(result['modalities'])}; {_recipe(result)}"
            + _pushed_at(result.get("model_version"))
            for name, result in report["models"].items()
        ),
        "",
        "Intent accuracy / macro F1 (%) on the test corpus, per modality combination:",
        "",
        "| model | overall | " + " | ".join(REPORTED_COMBINATIONS) + " | OOS recall @5% FRR |",
        "|---" * (len(REPORTED_COMBINATIONS) + 3) + "|",
    ]
    for name, result in report["models"].items():
        cells = [_pair(result["overall"], pct)]
        cells += [
            _pair(result["by_combination"].get(combination, {}), pct)
            for combination in REPORTED_COMBINATIONS
        ]
        cells.append(pct(result["overall"].get("oos_recall_at_5pct_frr")))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "In-scope turns only (BANKING77 test.csv rows), accuracy (%) of the best in-scope "
        "intent (no out-of-scope rejection: the setting of the published BANKING77 figures) "
        "/ of the served answer (calibrated out-of-scope threshold; a false rejection counts "
        "as an error):",
        "",
        "| model | overall | " + " | ".join(REPORTED_COMBINATIONS) + " |",
        "|---" * (len(REPORTED_COMBINATIONS) + 2) + "|",
    ]
    for name, result in report["models"].items():
        scores = [result["overall"]]
        scores += [result["by_combination"].get(c, {}) for c in REPORTED_COMBINATIONS]
        cells = [
            f"{pct(s.get('in_scope_accuracy'))} / {pct(s.get('in_scope_served_accuracy'))}"
            for s in scores
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    served = [
        f"{name} {pct(r['overall'].get('served_oos_recall'))} % recall at "
        f"{pct(r['overall'].get('served_false_rejection_rate'))} % false rejection"
        for name, r in report["models"].items()
    ]
    targets = report["targets"]
    ratio = targets["voice_over_text_ratio"]
    lines += [
        "",
        "Out of scope with each model's own calibrated threshold: " + "; ".join(served) + ".",
        "",
        "Reference (text only, BANKING77 full data): "
        + ", ".join(f"{k} {100 * v:.2f} %" for k, v in report["reference_accuracy"].items()),
        f"Fused model on in-scope text turns: {pct(targets['text_in_scope_accuracy'])} %, "
        f"beats the reference: {targets['text_accuracy_above_reference']}; voice-only / text "
        f"(in-scope): {_ratio_against_target(ratio)}",
        "",
        "![intent accuracy per modality combination](model_quality.svg)",
        "",
    ]
    throughput = report["models"].get("fused", {}).get("throughput")
    if throughput:
        lines.append(
            f"Training throughput, TFX Trainer vs bare Keras loop "
            f"(epoch {throughput['epoch_compared']} of each): "
            f"{throughput['tfx_trainer_examples_per_second']:.1f} vs "
            f"{throughput['bare_keras_examples_per_second']:.1f} examples/s, ratio "
            f"{throughput['tfx_vs_bare_ratio']:.2f}"
            + (
                f"; measured in an earlier run, on the fused model trained with "
                f"{throughput['measured_on']}"
                if "measured_on" in throughput
                else ""
            )
        )
    return "\n".join(lines) + "\n"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared-data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--work", type=Path, default=Path("runs/bench"))
    parser.add_argument("--train-size", type=int, default=None)
    parser.add_argument("--test-size", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=config.PROFILES["full"].training.epochs)
    parser.add_argument(
        "--models",
        nargs="+",
        choices=list(ABLATIONS),
        default=list(ABLATIONS),
        help="which models to train (default: the fused one and every ablation)",
    )
    parser.add_argument(
        "--learning-rate-schedule",
        choices=SCHEDULES,
        default=TrainingConfig().learning_rate_schedule,
    )
    parser.add_argument(
        "--trainable-text-layers",
        default=_text_layers_flag(config.PROFILES["full"].training.model.trainable_text_layers),
        help='text-encoder layers fine-tuned, from the top: a number or "all"',
    )
    parser.add_argument(
        "--text-learning-rate-scale",
        type=float,
        default=TrainingConfig().text_learning_rate_scale,
        help="the text backbone's top-layer rate as a share of the learning rate",
    )
    parser.add_argument(
        "--text-layer-rate-decay",
        type=float,
        default=TrainingConfig().text_layer_rate_decay,
        help="each lower text-backbone layer's rate as a share of the one above",
    )
    parser.add_argument(
        "--text-intent-loss-weight",
        type=float,
        default=config.PROFILES["full"].training.text_intent_loss_weight,
        help="weight of the auxiliary text intent head's loss (TrainingConfig); 0: none",
    )
    parser.add_argument(
        "--text-intent-sources",
        nargs="+",
        choices=list(TEXT_ENCODER_FEEDS),
        default=list(config.PROFILES["full"].training.text_intent_sources),
        help="text encoder inputs the auxiliary head reads (TrainingConfig."
        "text_intent_sources); a model gets those it has",
    )
    parser.add_argument(
        "--text-intent-serving-weight",
        type=float,
        default=config.PROFILES["full"].training.text_intent_serving_weight,
        help="share of the typed-text head's probabilities in the served intent of turns "
        "with typed text (TrainingConfig.text_intent_serving_weight); it changes only the "
        "export, so the model shares its pipeline root (ExampleGen and Transform outputs, "
        "the same trained weights) with the recipe without it",
    )
    parser.add_argument(
        "--text-intent-serving-scope",
        choices=list(MIX_SCOPES),
        default=config.PROFILES["full"].training.text_intent_serving_scope,
        help="which turns with typed text get that mix (TrainingConfig."
        'text_intent_serving_scope): every one, or "text_only" turns with no other input',
    )
    parser.add_argument(
        "--ema-momentum",
        type=float,
        default=config.PROFILES["full"].training.ema_momentum,
        help="export the moving average of the weights with this momentum per step "
        "(TrainingConfig.ema_momentum); 0: the last step's weights",
    )
    parser.add_argument(
        "--label-smoothing",
        type=float,
        default=config.PROFILES["full"].training.label_smoothing,
        help="share of each training target spread evenly over all classes "
        "(TrainingConfig.label_smoothing); 0: one-hot targets",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed of the weight initialisation, dropout, modality dropout and shuffling "
        "(FusionModelConfig.seed): another draw of the same recipe, in a pipeline root of "
        "its own; unset, the Trainer's default draw",
    )
    parser.add_argument(
        "--typed-copies",
        action="store_true",
        help="train on the corpus that also types every voice or picture query "
        "(CorpusConfig.typed_copies; its own corpus and pipeline roots under --work)",
    )
    parser.add_argument(
        "--split",
        type=config.SplitBuckets.parse,
        default=config.PROFILES["full"].split,
        help="train:eval hash buckets of session_id (default: the full profile's, "
        f"{config.PROFILES['full'].split}); the eval split is what the Evaluator and the "
        "out-of-scope calibration read",
    )
    parser.add_argument(
        "--reuse-trained",
        action="store_true",
        help="evaluate models a previous run trained (same --work, epochs, sizes, settings) "
        "again instead of training them, and keep its bare Keras measurement",
    )
    parser.add_argument(
        "--update",
        action="store_true",
        help="keep the models of the report in --out that --models does not name",
    )
    parser.add_argument(
        "--one-best",
        action="store_true",
        help="send each test turn with audio once, with its best transcript (by default it "
        "is answered over the n-best transcripts, as the chat service and mmcs predict do)",
    )
    parser.add_argument(
        "--bare-keras-epochs",
        type=int,
        default=2,
        help="epochs of the bare Keras loop the TFX Trainer's throughput is compared with, "
        "on the last of them (the first also caches the inputs; it trains the fused model "
        "again; 0 skips it)",
    )
    return parser


def main() -> None:
    print(_markdown(run(_parser().parse_args())))


if __name__ == "__main__":
    main()
