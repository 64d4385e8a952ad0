"""How the cutting of long texts moves the text path's answers on BANKING77.

Pairs runs of the same fine-tuning recipe and seed (benchmarks/text_finetune.py) made on
bundles tokenized with another truncation (`text_finetune_bundle --truncation`; a runs
file whose bundle names none kept the head, as every bundle before 2026-12-07) or another
sequence length (`--sequence-length`) against the run on the pipeline's tokenization
(the head of `features.TEXT_SEQUENCE_LENGTH` tokens). The typed test queries are split
into those longer than the pipeline's sequence (where either setting acts) and the rest
(which move only by the training's own spread), and for each pair and split: right
answers of each run, queries only one gets right and the exact McNemar test. A run
repeated on the pipeline's tokenization says how many queries it answered differently
(0: the training repeats). Writes JSON and a readable report.

  python -m benchmarks.truncation_pairs --runs RUNS.json [RUNS.json ...] \
      --shared-data ../shared/data --out benchmarks/results --stem text_finetune_truncation
"""

import argparse
import datetime
import json
from pathlib import Path

import numpy as np

from benchmarks.banking77_text import mcnemar
from corpus.sources import read_banking77
from models import features

BASELINE = "head"
BASELINE_LENGTH = features.TEXT_SEQUENCE_LENGTH


def long_queries(texts: list[str], sequence_length: int = features.TEXT_SEQUENCE_LENGTH):
    """bool [queries]: more wordpieces than the sequence holds besides its two markers."""
    import tensorflow as tf

    from models import text_preprocessing

    tokenizer = text_preprocessing.make_text_tokenizer(text_preprocessing.text_vocabulary_path())
    lengths = tokenizer.tokenize(tf.constant(texts)).merge_dims(-2, -1).row_lengths()
    return lengths.numpy() > sequence_length - 2


def tokenization(truncation: str, sequence_length: int) -> str:
    """A bundle's tokenization as the report names it: the truncation, and the sequence
    length where it is not the pipeline's ("head_tail", "head, 64 tokens")."""
    if sequence_length == BASELINE_LENGTH:
        return truncation
    return f"{truncation}, {sequence_length} tokens"


def load_runs(paths: list[Path]) -> list[dict]:
    """Every run of the files, with its recipe name, tokenization, predictions and file."""
    runs = []
    for path in paths:
        report = json.loads(path.read_text())
        bundle = report["bundle"]
        name = tokenization(
            bundle.get("truncation", BASELINE), bundle.get("sequence_length", BASELINE_LENGTH)
        )
        for run in report["runs"]:
            runs.append(
                {
                    "recipe": run["recipe"]["name"],
                    "truncation": name,
                    "predictions": np.asarray(run["test_predictions"]),
                    "file": path.name,
                }
            )
    return runs


def _split_counts(right_a: np.ndarray, right_b: np.ndarray, mask: np.ndarray) -> dict:
    return {
        "queries": int(mask.sum()),
        "baseline_right": int(right_a[mask].sum()),
        "right": int(right_b[mask].sum()),
        **mcnemar(right_a[mask], right_b[mask]),
    }


def compare(runs: list[dict], labels: np.ndarray, long: np.ndarray) -> dict:
    """Each run on another tokenization against the baseline run of its recipe and seed."""
    baseline = {}
    repeats = []
    for run in runs:
        if run["truncation"] != BASELINE:
            continue
        first = baseline.setdefault(run["recipe"], run)
        if first is not run:
            repeats.append(
                {
                    "recipe": run["recipe"],
                    "files": [first["file"], run["file"]],
                    "queries_answered_differently": int(
                        np.sum(first["predictions"] != run["predictions"])
                    ),
                }
            )
    pairs = []
    for run in runs:
        if run["truncation"] == BASELINE or run["recipe"] not in baseline:
            continue
        right_a = baseline[run["recipe"]]["predictions"] == labels
        right_b = run["predictions"] == labels
        pairs.append(
            {
                "recipe": run["recipe"],
                "truncation": run["truncation"],
                "baseline_file": baseline[run["recipe"]]["file"],
                "file": run["file"],
                "long": _split_counts(right_a, right_b, long),
                "rest": _split_counts(right_a, right_b, ~long),
                "all": _split_counts(right_a, right_b, np.ones_like(long)),
            }
        )
    # Summed over the pairs of each tokenization (its seeds), never across tokenizations.
    totals = {}
    for name in dict.fromkeys(pair["truncation"] for pair in pairs):
        group = [pair for pair in pairs if pair["truncation"] == name]
        totals[name] = {
            split: {
                "baseline_right": sum(p[split]["baseline_right"] for p in group),
                "right": sum(p[split]["right"] for p in group),
            }
            for split in ("long", "rest", "all")
        }
    return {"pairs": pairs, "totals": totals, "repeats": repeats}


def markdown(report: dict) -> str:
    lines = [
        "# Truncation of long texts on the text path",
        "",
        f"{report['date']}. The text path fine-tuned on typed BANKING77 queries "
        "(`benchmarks.text_finetune`), each recipe and seed once on a bundle whose long "
        f"texts keep the head of the pipeline's {report['sequence_length']}-token sequence "
        "and once on another truncation or sequence length (the second column). Of the "
        f"{report['queries']} test queries, {report['long_queries']} are longer than "
        f"{report['sequence_length']} tokens: only those are tokenized differently.",
        "",
        "| recipe | tokenization | long queries right (head -> this) | only head / only this, p "
        "| other queries right | only head / only this, p | all right |",
        "|---|---|---|---|---|---|---|",
    ]
    for pair in report["pairs"]:
        long, rest, every = pair["long"], pair["rest"], pair["all"]
        lines.append(
            f"| {pair['recipe']} | {pair['truncation']} | {long['baseline_right']} -> "
            f"{long['right']} of {long['queries']} | {long['only_first_right']} / "
            f"{long['only_this_right']}, {long['p_value']:.2f} | {rest['baseline_right']} -> "
            f"{rest['right']} | {rest['only_first_right']} / {rest['only_this_right']}, "
            f"{rest['p_value']:.2f} | {every['baseline_right']} -> {every['right']} |"
        )
    lines.append("")
    for name, totals in report["totals"].items():
        lines.append(
            f"Over the pairs of {name}: long queries "
            f"{totals['long']['baseline_right']} -> {totals['long']['right']}, other queries "
            f"{totals['rest']['baseline_right']} -> {totals['rest']['right']}, all "
            f"{totals['all']['baseline_right']} -> {totals['all']['right']}."
        )
    for repeat in report["repeats"]:
        lines.append(
            f"\nRepeat of `{repeat['recipe']}` with the head ({', '.join(repeat['files'])}): "
            f"{repeat['queries_answered_differently']} queries answered differently."
        )
    lines += ["", "Runs files: " + ", ".join(f"`{name}`" for name in report["runs_files"]), ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=Path, nargs="+", required=True)
    parser.add_argument("--shared-data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--stem", default="text_finetune_truncation")
    args = parser.parse_args()

    test_rows = read_banking77(args.shared_data / "banking77" / "test.csv")
    runs = load_runs(args.runs)
    intents = json.loads(args.runs[0].read_text())["bundle"]["intents"]
    labels = np.asarray([intents.index(row.intent) for row in test_rows])
    long = long_queries([row.text for row in test_rows])
    report = {
        "benchmark": "truncation_pairs",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "queries": len(test_rows),
        "long_queries": int(long.sum()),
        "sequence_length": BASELINE_LENGTH,
        "runs_files": [path.name for path in args.runs],
        **compare(runs, labels, long),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.stem}.json").write_text(json.dumps(report, indent=1) + "\n")
    (args.out / f"{args.stem}.md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
