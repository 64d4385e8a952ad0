"""What the typed-text head's serving mix costs at prediction time: the `full` profile's
served model (the head's intent mixed in at 0.5 on text-only turns, models/served_intent.py)
against the same weights served without the mix, called in-process on the same batches.

The model is the `full` profile's fusion model with its real pretrained backbones
(all-MiniLM-L6-v2, EfficientNet-Lite0) and untrained fusion and heads: the time of a call
does not depend on what the weights hold. The inputs are random transformed features
(models/synthetic_features.py); each batch mixes text-only turns with turns of other
modality combinations. Both served models are traced with tf.function, as a SavedModel
signature is; each round calls both once on the same batch, alternating which goes first.

  python -m benchmarks.served_mix_cost --out benchmarks/results [--rounds N]

What the mix adds is one dense layer over the typed text's embedding and a dozen
element-wise ops over (batch, intents). The report gives the median of the per-round
ratios mixed / plain and the difference of the medians in milliseconds, and checks that
the two models agree on every turn that is not text-only.
"""

import argparse
import datetime
import json
import os
import time
from pathlib import Path

import numpy as np
import tensorflow as tf
from scipy.special import softmax

from benchmarks import host
from models import features, minilm
from models.fusion_model import AUDIO, IMAGE, IMAGE_TEXT, TEXT, TRANSCRIPT, build_fusion_model
from models.served_intent import served_model
from models.synthetic_features import random_features
from models.training_config import TrainingConfig
from pipeline import config

PROFILE = "full"
BATCH_SIZES = (1, 16)
ROUNDS = 100
WARMUP_CALLS = 3
# Modality combinations of the rows of a batch, cycled: the corpus' kinds of turn.
ROW_COMBINATIONS = (
    (TEXT,),
    (TEXT, IMAGE, IMAGE_TEXT),
    (IMAGE, IMAGE_TEXT),
    (AUDIO, TRANSCRIPT),
    (TEXT, IMAGE, AUDIO, TRANSCRIPT, IMAGE_TEXT),
)
BOOTSTRAP_RESAMPLES = 2000
# Probabilities of the two models on a turn the mix leaves alone agree to this.
AGREEMENT_TOLERANCE = 1e-5


def presence_rows(modalities: tuple[str, ...], batch_size: int) -> np.ndarray:
    """(batch_size, len(modalities)) presence flags cycling over ROW_COMBINATIONS; the
    first row is a text-only turn."""
    rows = [ROW_COMBINATIONS[i % len(ROW_COMBINATIONS)] for i in range(batch_size)]
    return np.array([[float(m in row) for m in modalities] for row in rows], "float32")


def text_only_rows(modalities: tuple[str, ...], presence: np.ndarray) -> np.ndarray:
    """Which rows have typed text and nothing else."""
    text = presence[:, modalities.index(TEXT)] > 0
    return text & (presence.sum(axis=1) == 1)


def agreement(
    plain: dict, mixed: dict, text_only: np.ndarray, tolerance: float = AGREEMENT_TOLERANCE
) -> dict:
    """How the mixed model's outputs differ from the plain one's: intent probabilities on
    the text-only rows and on the others, sentiment on every row. The plain model serves
    logits, the mixed one log-probabilities: both are compared as probabilities."""
    plain_probabilities = softmax(np.asarray(plain[features.INTENT_KEY], "float64"), axis=-1)
    mixed_probabilities = np.exp(np.asarray(mixed[features.INTENT_KEY], "float64"))
    difference = np.abs(plain_probabilities - mixed_probabilities).max(axis=-1)
    sentiment = np.abs(
        np.asarray(plain[features.SENTIMENT_KEY]) - np.asarray(mixed[features.SENTIMENT_KEY])
    )
    others = difference[~text_only]
    return {
        "text_only_rows": int(text_only.sum()),
        "other_rows": int((~text_only).sum()),
        "intent_max_difference_text_only": float(difference[text_only].max(initial=0.0)),
        "intent_max_difference_other": float(others.max(initial=0.0)),
        "sentiment_max_difference": float(sentiment.max(initial=0.0)),
        "other_rows_agree": bool(others.max(initial=0.0) <= tolerance),
    }


def _bootstrap_median_interval(values: np.ndarray, resamples: int = BOOTSTRAP_RESAMPLES):
    """95 % bootstrap interval of the median (percentile method, fixed seed)."""
    rng = np.random.default_rng(0)
    medians = np.median(rng.choice(values, (resamples, len(values))), axis=1)
    return [float(np.percentile(medians, 2.5)), float(np.percentile(medians, 97.5))]


def timing_summary(plain_seconds: list[float], mixed_seconds: list[float]) -> dict:
    """Medians and p99 of each model's call times, the median of the per-round ratios
    mixed / plain (with its interquartile range and a 95 % bootstrap interval) and the
    difference of the medians."""
    plain, mixed = np.array(plain_seconds) * 1e3, np.array(mixed_seconds) * 1e3
    if len(plain) != len(mixed) or not len(plain):
        raise ValueError("one time per round for each model is needed")
    ratios = mixed / plain
    return {
        "rounds": len(plain),
        "plain_p50_ms": float(np.median(plain)),
        "plain_p99_ms": float(np.percentile(plain, 99)),
        "mixed_p50_ms": float(np.median(mixed)),
        "mixed_p99_ms": float(np.percentile(mixed, 99)),
        "paired_ratio_median": float(np.median(ratios)),
        "paired_ratio_iqr": [float(np.percentile(ratios, q)) for q in (25, 75)],
        "paired_ratio_median_95ci": _bootstrap_median_interval(ratios),
        "added_p50_ms": float(np.median(mixed) - np.median(plain)),
    }


def _traced(model):
    return tf.function(lambda batch: model(batch, training=False))


def _time_call(function, batch) -> tuple[float, dict]:
    start = time.perf_counter()
    outputs = {key: value.numpy() for key, value in function(batch).items()}
    return time.perf_counter() - start, outputs


def measure(
    training: TrainingConfig,
    text_backbone,
    image_backbone,
    vocabulary_size: int,
    batch_sizes=BATCH_SIZES,
    rounds: int = ROUNDS,
) -> dict:
    """Times the plain and the mixed served model of one model, per batch size."""
    if not training.text_intent_serving_weight:
        raise ValueError("the training configuration serves no typed-text mix to measure")
    sources = training.auxiliary_intent_sources
    model = build_fusion_model(training.model, text_backbone, image_backbone, sources)
    functions = {
        "plain": _traced(served_model(model, sources)),
        "mixed": _traced(
            served_model(
                model,
                sources,
                training.text_intent_serving_weight,
                training.text_intent_serving_scope,
            )
        ),
    }
    modalities = training.model.modalities
    results = {}
    for batch_size in batch_sizes:
        presence = presence_rows(modalities, batch_size)
        batch = {
            key: tf.constant(value)
            for key, value in random_features(
                training.model, presence, vocabulary_size, seed=batch_size
            ).items()
        }
        outputs = {}
        for name, function in functions.items():
            for _ in range(WARMUP_CALLS):
                _, outputs[name] = _time_call(function, batch)
        seconds = {"plain": [], "mixed": []}
        for round_index in range(rounds):
            order = ("plain", "mixed") if round_index % 2 == 0 else ("mixed", "plain")
            for name in order:
                elapsed, _ = _time_call(functions[name], batch)
                seconds[name].append(elapsed)
        results[str(batch_size)] = {
            **timing_summary(seconds["plain"], seconds["mixed"]),
            "agreement": agreement(
                outputs["plain"], outputs["mixed"], text_only_rows(modalities, presence)
            ),
        }
    return results


def run(out: Path, rounds: int = ROUNDS, batch_sizes=BATCH_SIZES) -> dict:
    """The benchmark on the PROFILE's model with the real backbones."""
    training = config.PROFILES[PROFILE].training
    load_before = os.getloadavg()
    # No backbones passed: build_fusion_model loads the pretrained ones.
    batches = measure(training, None, None, minilm.VOCABULARY_SIZE, batch_sizes, rounds)
    load_after = os.getloadavg()
    result = {
        "benchmark": "served_mix_cost",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": host.describe(load_before, load_after),
        "profile": PROFILE,
        "text_intent_serving_weight": training.text_intent_serving_weight,
        "text_intent_serving_scope": training.text_intent_serving_scope,
        "row_combinations": ["+".join(row) for row in ROW_COMBINATIONS],
        "batches": batches,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "served_mix_cost.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "served_mix_cost.md").write_text(report(result))
    return result


def report(result: dict) -> str:
    lines = [
        "# The typed-text serving mix: cost at prediction time",
        "",
        host.summary_line(result["date"], result["machine"]),
        "",
        f"Model: the `{result['profile']}` profile's fusion model (MiniLM, EfficientNet-Lite0), "
        f"served without the mix (plain) and with the typed-text head's intent mixed in at "
        f"{result['text_intent_serving_weight']:g} on {result['text_intent_serving_scope']} "
        "turns (mixed): same weights, called in-process through tf.function on the same "
        "random transformed features; each round calls both, alternating which goes first. "
        f"Rows cycle over {', '.join(result['row_combinations'])}.",
        "",
        "| batch | rounds | plain p50 ms | mixed p50 ms | added ms (p50) | mixed / plain "
        "(median of rounds) | its 95 % interval | interquartile | plain p99 ms | "
        "mixed p99 ms |",
        "|---:|---:|---:|---:|---:|---:|---|---|---:|---:|",
    ]
    for batch_size, row in result["batches"].items():
        low, high = row["paired_ratio_iqr"]
        ci_low, ci_high = row["paired_ratio_median_95ci"]
        lines.append(
            f"| {batch_size} | {row['rounds']} | {row['plain_p50_ms']:.1f} | "
            f"{row['mixed_p50_ms']:.1f} | {row['added_p50_ms']:+.2f} | "
            f"**{row['paired_ratio_median']:.3f}x** | {ci_low:.3f}-{ci_high:.3f} | "
            f"{low:.3f}-{high:.3f} | "
            f"{row['plain_p99_ms']:.1f} | {row['mixed_p99_ms']:.1f} |"
        )
    lines += ["", "Outputs (the mix must change only text-only turns' intent):", ""]
    for batch_size, row in result["batches"].items():
        agree = row["agreement"]
        verdict = "agree" if agree["other_rows_agree"] else "DISAGREE"
        lines.append(
            f"- batch {batch_size}: intent probabilities differ by up to "
            f"{agree['intent_max_difference_text_only']:.3g} on the "
            f"{agree['text_only_rows']} text-only row(s); on the other "
            f"{agree['other_rows']} they {verdict} (max difference "
            f"{agree['intent_max_difference_other']:.2g}); sentiment max difference "
            f"{agree['sentiment_max_difference']:.2g}."
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="benchmarks/results", help="results folder")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="timed rounds per batch size")
    parser.add_argument(
        "--batch-sizes", type=int, nargs="+", default=list(BATCH_SIZES), help="rows per call"
    )
    args = parser.parse_args(argv)
    result = run(Path(args.out), args.rounds, tuple(args.batch_sizes))
    print(report(result))
    return 0 if all(b["agreement"]["other_rows_agree"] for b in result["batches"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
