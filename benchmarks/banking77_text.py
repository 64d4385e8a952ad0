"""Pushed models on every BANKING77 test query as a typed text turn: the published setting.

The quality benchmark (benchmarks/model_quality.py) renders each test query into one
modality combination, so its text figure rests on the share of queries rendered as typed
text (696 of 1540 here, ±2.1 points at 95 %). The published BANKING77 figures classify
every test query as text. This benchmark sends each row of `test.csv` to a pushed model's
`serving_default` (the inputs REST clients send) as a text-only turn and reports, per model:

- in-scope accuracy (best of the 77 intents, no out-of-scope rejection: the published
  setting) with its 95 % Wilson interval, and how many correct queries beating the
  reference takes; macro F1; the served answer's accuracy (a false out-of-scope flag
  counts as an error);
- the same accuracy on the queries the test corpus rendered as text turns (equal to
  model_quality's text figure for that model: a check that both paths agree) and on the
  rest, and on queries longer than the text sequence (truncated) and the others;
- against the first model named: queries only one of the two gets right, and the exact
  McNemar p-value of that split.

The report keeps each model's answer to every query (`answers`, in test.csv order), so a
model trained in an earlier checkout, whose SavedModel is gone, can still be compared
query by query: `--recorded NAME=REPORT.json:MODEL` takes MODEL's answers from an earlier
report of this benchmark (over the same queries) and puts it first, as the model the
others are compared with.

  python -m benchmarks.banking77_text --shared-data ../shared/data \
      [--model fused=runs/bench/quality-fused-full-e6-linear_decay-text2/serving/mmcs ...] \
      [--recorded baseline=benchmarks/results/banking77_text.json:fused]
"""

import argparse
import dataclasses
import datetime
import hashlib
import json
import math
import os
from pathlib import Path

import numpy as np
from scipy import stats
from sklearn.metrics import f1_score

from benchmarks.model_quality import (
    REFERENCE_ACCURACY,
    best_in_scope_intents,
    intent_scores,
    pushed_model_dir,
)
from corpus.session_plan import VAGUE_TEXTS
from corpus.sources import read_banking77
from models import features, text_preprocessing
from serving import batch_predict

REFERENCE_NAME = "BERT-large fine-tuned"
# Without --model: the quality benchmark's fused model and its text-only ablation.
DEFAULT_MODELS = ("fused", "text_only")


@dataclasses.dataclass(frozen=True)
class Query:
    """One test.csv row and what is known of it besides its label."""

    text: str
    intent: str
    wordpieces: int  # without [CLS] and [SEP]
    rendered_as_text_turn: bool


def wilson_interval(correct: int, total: int) -> tuple[float, float]:
    """The 95 % Wilson score interval of a proportion."""
    if total == 0:
        return (0.0, 1.0)
    interval = stats.binomtest(correct, total).proportion_ci(0.95, method="wilson")
    return (float(interval.low), float(interval.high))


def needed_to_beat(reference: float, total: int) -> int:
    """The fewest correct queries out of `total` whose accuracy is above `reference`."""
    return math.floor(reference * total) + 1


def mcnemar(right_a: np.ndarray, right_b: np.ndarray) -> dict:
    """Queries only A / only B gets right, and the exact two-sided McNemar p-value."""
    only_a = int(np.sum(right_a & ~right_b))
    only_b = int(np.sum(right_b & ~right_a))
    discordant = only_a + only_b
    p = stats.binomtest(only_a, discordant, 0.5).pvalue if discordant else 1.0
    return {"only_first_right": only_a, "only_this_right": only_b, "p_value": float(p)}


def text_turn_texts(corpus_dir: Path) -> set[str]:
    """Texts of the rendered corpus's in-scope turns that carry typed text and nothing else
    (not a vague line: those point at a picture)."""
    texts = set()
    for path in sorted(corpus_dir.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if (
                record.get("text")
                and not record.get("image")
                and not record.get("audio")
                and record.get("intent") not in (None, features.OUT_OF_SCOPE_INTENT)
                and record["text"] not in VAGUE_TEXTS
            ):
                texts.add(record["text"])
    return texts


def read_queries(test_csv: Path, rendered_text: set[str]) -> list[Query]:
    rows = read_banking77(test_csv)
    tokenizer = text_preprocessing.make_text_tokenizer(text_preprocessing.text_vocabulary_path())
    lengths = tokenizer.tokenize([r.text for r in rows]).merge_dims(-2, -1).row_lengths()
    return [
        Query(r.text, r.intent, int(n), r.text in rendered_text)
        for r, n in zip(rows, lengths.numpy(), strict=True)
    ]


def query_set_digest(queries: list[Query]) -> str:
    """SHA-256 of the queries and their labels, in order: recorded answers are compared
    only over the same query set."""
    text = "\n".join(f"{q.text}\t{q.intent}" for q in queries)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def recorded_model(report_path: Path, model: str, queries: list[Query]) -> tuple[dict, np.ndarray]:
    """A model's scores and which queries it got right, from an earlier report's answers.

    Raises:
        ValueError: the report is over other queries, has no such model, or the model's
            answers were not recorded (reports written before answers were kept).
    """
    report = json.loads(report_path.read_text())
    if report.get("queries_sha256") != query_set_digest(queries):
        raise ValueError(f"{report_path} was written over other test queries than these")
    if model not in report.get("models", {}):
        raise ValueError(
            f"{report_path} has no model {model!r} (it has {sorted(report.get('models', {}))})"
        )
    # Its comparisons were with the models of that report, not of this one.
    result = {k: v for k, v in report["models"][model].items() if not k.startswith("against_")}
    answers = result.get("answers")
    if answers is None or len(answers) != len(queries):
        raise ValueError(f"{report_path} does not record model {model!r}'s answer to each query")
    result["recorded_in"] = f"{report_path} ({report['date']})"
    right = np.array([a == q.intent for a, q in zip(answers, queries, strict=True)])
    return result, right


def _accuracy(right: np.ndarray, chosen: np.ndarray) -> dict:
    correct, total = int(right[chosen].sum()), int(chosen.sum())
    return {"queries": total, "correct": correct, "accuracy": correct / total if total else None}


def evaluate(model_dir: str, queries: list[Query]) -> tuple[dict, np.ndarray]:
    """Scores of one model, and which queries it gets right (best in-scope intent)."""
    predictor = batch_predict.Predictor(model_dir)
    turns = [
        batch_predict.TurnInputs(
            turn_id=f"q{i}",
            session_id=f"q{i}",
            source="test.csv",
            values={
                key: (q.text.encode() if key == features.TEXT_KEY else b"")
                for key in features.SERVING_INPUT_KEYS
            },
            modalities=features.TEXT_KEY,
            intent=q.intent,
        )
        for i, q in enumerate(queries)
    ]
    predictions = predictor.predict(turns)
    scores = intent_scores(turns, predictions)
    best = best_in_scope_intents(predictions)
    truth = [q.intent for q in queries]
    right = np.array([b == t for b, t in zip(best, truth, strict=True)])
    correct = int(right.sum())
    reference = REFERENCE_ACCURACY[REFERENCE_NAME]
    truncated = np.array([q.wordpieces > features.TEXT_SEQUENCE_LENGTH - 2 for q in queries])
    rendered = np.array([q.rendered_as_text_turn for q in queries])
    return {
        "model_version": os.path.basename(predictor.version_dir.rstrip("/")),
        "queries": len(queries),
        "correct": correct,
        "accuracy": correct / len(queries),
        "accuracy_95ci": wilson_interval(correct, len(queries)),
        "macro_f1": float(f1_score(truth, best, average="macro", zero_division=0)),
        "served_accuracy": scores["in_scope_served_accuracy"],
        "needed_to_beat_reference": needed_to_beat(reference, len(queries)),
        "beats_reference": correct / len(queries) > reference,
        "rendered_as_text_turns": _accuracy(right, rendered),
        "rendered_otherwise": _accuracy(right, ~rendered),
        "truncated": _accuracy(right, truncated),
        "not_truncated": _accuracy(right, ~truncated),
        "answers": best,
    }, right


def run(args) -> dict:
    rendered = text_turn_texts(args.work / "corpus-test-full")
    queries = read_queries(args.shared_data / "banking77" / "test.csv", rendered)
    recorded = args.recorded or []
    models = args.model or (
        [] if recorded else [(name, pushed_model_dir(args.work, name)) for name in DEFAULT_MODELS]
    )
    results, rights = {}, {}
    for name, (report_path, model) in recorded:
        results[name], rights[name] = recorded_model(report_path, model, queries)
    for name, model_dir in models:
        results[name], rights[name] = evaluate(model_dir, queries)
        results[name]["model_dir"] = model_dir
    first = next(iter(results))
    for name, result in results.items():
        if name != first:
            result["against_" + first] = mcnemar(rights[first], rights[name])
    report = {
        "benchmark": "banking77_text",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "test_queries": len(queries),
        "queries_sha256": query_set_digest(queries),
        "rendered_as_text_turns": sum(q.rendered_as_text_turn for q in queries),
        "truncated_queries": sum(q.wordpieces > features.TEXT_SEQUENCE_LENGTH - 2 for q in queries),
        "text_sequence_length": features.TEXT_SEQUENCE_LENGTH,
        "reference_accuracy": REFERENCE_ACCURACY,
        "models": results,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "banking77_text.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / "banking77_text.md").write_text(markdown(report))
    return report


def _pct(part: dict) -> str:
    if not part["queries"]:
        return "-"
    return f"{100 * part['accuracy']:.1f} ({part['correct']}/{part['queries']})"


def markdown(report: dict) -> str:
    reference = report["reference_accuracy"][REFERENCE_NAME]
    names = list(report["models"])
    lines = [
        "# BANKING77 test queries as typed text",
        "",
        f"{report['date']}. Every row of `test.csv` ({report['test_queries']} queries, 20 "
        "per intent: half of the published 3,080-query test set) sent to each pushed "
        "model's `serving_default` as a text-only turn. "
        f"{report['rendered_as_text_turns']} of them are the text turns of the multimodal "
        f"test corpus (model_quality.md); {report['truncated_queries']} are longer than "
        f"the {report['text_sequence_length']}-token text sequence and are truncated.",
        "",
        f"Reference ({REFERENCE_NAME}, BANKING77 full data): {100 * reference:.2f} %; "
        f"beating it takes {needed_to_beat(reference, report['test_queries'])} of "
        f"{report['test_queries']} queries.",
        "",
        "In-scope accuracy (%) is the best of the 77 intents, no out-of-scope rejection (the "
        "published setting); served accuracy counts a false out-of-scope flag as an error.",
        "",
        "| model | version | accuracy (correct) | 95 % interval | macro F1 | served | "
        "beats reference | corpus text turns | other queries | truncated | not truncated |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in names:
        r = report["models"][name]
        low, high = r["accuracy_95ci"]
        lines.append(
            f"| {name} | {r['model_version']} | {100 * r['accuracy']:.2f} ({r['correct']}) | "
            f"{100 * low:.1f}-{100 * high:.1f} | {100 * r['macro_f1']:.1f} | "
            f"{100 * r['served_accuracy']:.1f} | {'yes' if r['beats_reference'] else 'no'} | "
            f"{_pct(r['rendered_as_text_turns'])} | {_pct(r['rendered_otherwise'])} | "
            f"{_pct(r['truncated'])} | {_pct(r['not_truncated'])} |"
        )
    if len(names) > 1:
        first = names[0]
        lines += [
            "",
            f"Against {first} (queries only one of the two gets right; exact McNemar test):",
            "",
            f"| model | only {first} right | only this model right | p |",
            "|---|---|---|---|",
        ]
        for name in names[1:]:
            m = report["models"][name]["against_" + first]
            lines.append(
                f"| {name} | {m['only_first_right']} | {m['only_this_right']} | "
                f"{m['p_value']:.3f} |"
            )
    lines += ["", "Models:", ""]
    for name in names:
        model = report["models"][name]
        recorded = f", answers recorded in {model['recorded_in']}" if "recorded_in" in model else ""
        lines.append(f"- {name}: `{model['model_dir']}`{recorded}")
    return "\n".join(lines) + "\n"


def _named_model(value: str) -> tuple[str, str]:
    name, sep, path = value.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=MODEL_DIR, got {value!r}")
    return name, path


def recorded_model_flag(value: str) -> tuple[str, tuple[Path, str]]:
    """NAME=REPORT.json:MODEL (also paired_turns' --first/--second)."""
    name, sep, rest = value.partition("=")
    path, colon, model = rest.rpartition(":")
    if not sep or not name or not colon or not path or not model:
        raise argparse.ArgumentTypeError(f"expected NAME=REPORT.json:MODEL, got {value!r}")
    return name, (Path(path), model)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shared-data", type=Path, default=Path("../shared/data"))
    parser.add_argument(
        "--work",
        type=Path,
        default=Path("runs/bench"),
        help="where benchmarks.model_quality rendered the test corpus",
    )
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument(
        "--model",
        type=_named_model,
        action="append",
        help="NAME=DIR: a pushed SavedModel or a model base dir (newest version); "
        "repeat it; the first is the one the others are compared with (default: the "
        "fused model and the text-only ablation of `make bench-quality` under --work)",
    )
    parser.add_argument(
        "--recorded",
        type=recorded_model_flag,
        action="append",
        help="NAME=REPORT.json:MODEL: MODEL's answers from an earlier report of this "
        "benchmark, compared first (before the --model ones); repeat it",
    )
    args = parser.parse_args()
    names = [name for name, _ in (args.recorded or []) + (args.model or [])]
    if len(set(names)) != len(names):
        parser.error(f"model names must differ, got {names}")
    print(markdown(run(args)))


if __name__ == "__main__":
    main()
