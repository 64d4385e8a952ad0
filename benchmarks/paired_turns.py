"""Two models of the quality benchmark compared turn by turn on the test corpus.

The quality benchmark's report (benchmarks/model_quality.py) keeps the test corpus's turns
(`test_turns`: id, intent label and modality combination, in prediction order) and each
model's answers to them. Two models, from one report or from two reports over the same
test turns, are compared on the same turns:

- in-scope turns, best in-scope intent (the published BANKING77 setting), overall and per
  modality combination: each model's correct turns, the turns only one of the two gets
  right and the exact McNemar p-value of that split;
- every labelled turn, the served answer (the calibrated out-of-scope flag included), so
  out-of-scope turns count too.

Unpaired accuracies over a few hundred turns differ by several points from one training
run to the next; the paired split says whether two models differ on the turns
themselves.

  python -m benchmarks.paired_turns \
      --first base=benchmarks/results/model_quality.json:fused \
      --second aux=benchmarks/results/model_quality_aux.json:fused \
      --out benchmarks/results/paired_turns_aux
"""

import argparse
import datetime
import json
from pathlib import Path

import numpy as np

from benchmarks.banking77_text import mcnemar, recorded_model_flag
from models import features

ALL = "all"


def model_answers(report_path: Path, model: str) -> tuple[dict, dict]:
    """A report's test turns and one model's answers to them.

    Raises:
        ValueError: the report has no such model, or it was written before turns and
            answers were kept.
    """
    report = json.loads(report_path.read_text())
    if model not in report.get("models", {}):
        raise ValueError(
            f"{report_path} has no model {model!r} (it has {sorted(report.get('models', {}))})"
        )
    turns = report.get("test_turns")
    answers = report["models"][model].get("answers")
    if turns is None or answers is None:
        raise ValueError(
            f"{report_path} does not keep model {model!r}'s answer to each test turn "
            "(reports written before answers were kept)"
        )
    if not len(turns["turn_ids"]) == len(answers["best_in_scope"]) == len(answers["served"]):
        raise ValueError(f"{report_path}: model {model!r} has not one answer per test turn")
    return turns, answers


def _side(right: np.ndarray) -> dict:
    return {"correct": int(right.sum()), "accuracy": float(right.mean()) if len(right) else None}


def _paired(first: np.ndarray, second: np.ndarray) -> dict:
    return {
        "turns": int(len(first)),
        "first": _side(first),
        "second": _side(second),
        **mcnemar(first, second),
    }


def compare(turns: dict, first: dict, second: dict) -> dict:
    """The paired comparison of two models' answers to the same test turns."""
    intents = np.array([intent or "" for intent in turns["intents"]])
    combinations = np.array(turns["combinations"])
    labelled = intents != ""
    in_scope = labelled & (intents != features.OUT_OF_SCOPE_INTENT)

    def right(answers: list[str]) -> np.ndarray:
        return np.array(answers) == intents

    best = right(first["best_in_scope"]), right(second["best_in_scope"])
    served = right(first["served"]), right(second["served"])
    groups = {ALL: np.ones(len(intents), bool)}
    groups.update({c: combinations == c for c in sorted(set(combinations.tolist()))})
    return {
        "in_scope_best_intent": {
            name: _paired(best[0][chosen & in_scope], best[1][chosen & in_scope])
            for name, chosen in groups.items()
            if (chosen & in_scope).any()
        },
        "served_answer": _paired(served[0][labelled], served[1][labelled]),
        "out_of_scope_served": _paired(
            served[0][labelled & ~in_scope], served[1][labelled & ~in_scope]
        ),
    }


def run(args) -> dict:
    (first_name, (first_path, first_model)) = args.first
    (second_name, (second_path, second_model)) = args.second
    turns, first = model_answers(first_path, first_model)
    other_turns, second = model_answers(second_path, second_model)
    if (turns["turn_ids"], turns["intents"]) != (other_turns["turn_ids"], other_turns["intents"]):
        raise ValueError(f"{first_path} and {second_path} were written over other test turns")
    report = {
        "benchmark": "paired_turns",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "first": {"name": first_name, "report": str(first_path), "model": first_model},
        "second": {"name": second_name, "report": str(second_path), "model": second_model},
        "test_turns": len(turns["turn_ids"]),
        **compare(turns, first, second),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    Path(f"{args.out}.json").write_text(json.dumps(report, indent=2) + "\n")
    Path(f"{args.out}.md").write_text(markdown(report))
    return report


def _row(name: str, paired: dict) -> str:
    def cell(side: dict) -> str:
        accuracy = side["accuracy"]
        pct = "-" if accuracy is None else f"{100 * accuracy:.1f}"
        return f"{pct} ({side['correct']})"

    return (
        f"| {name} | {paired['turns']} | {cell(paired['first'])} | {cell(paired['second'])} | "
        f"{paired['only_first_right']} | {paired['only_this_right']} | {paired['p_value']:.3f} |"
    )


def markdown(report: dict) -> str:
    first, second = report["first"]["name"], report["second"]["name"]
    header = [
        f"| turns | count | {first} (correct) | {second} (correct) | only {first} right "
        f"| only {second} right | McNemar p |",
        "|---|---|---|---|---|---|---|",
    ]
    lines = [
        f"# {first} against {second}, turn by turn",
        "",
        f"{report['date']}. The {report['test_turns']} turns of the test corpus; "
        f"{first}: model `{report['first']['model']}` of `{report['first']['report']}`; "
        f"{second}: model `{report['second']['model']}` of `{report['second']['report']}`. "
        "p: exact two-sided McNemar test on the turns only one of the two gets right.",
        "",
        "In-scope turns, best in-scope intent (accuracy %), per modality combination:",
        "",
        *header,
        *(_row(name, paired) for name, paired in report["in_scope_best_intent"].items()),
        "",
        "Served answer (the calibrated out-of-scope flag included):",
        "",
        *header,
        _row("all labelled turns", report["served_answer"]),
        _row("out-of-scope turns", report["out_of_scope_served"]),
        "",
    ]
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--first", type=recorded_model_flag, required=True, help="NAME=REPORT.json:MODEL"
    )
    parser.add_argument(
        "--second", type=recorded_model_flag, required=True, help="NAME=REPORT.json:MODEL"
    )
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        help="path of the report without suffix: .json and .md are written",
    )
    return parser


def main() -> None:
    print(markdown(run(_parser().parse_args())))


if __name__ == "__main__":
    main()
