"""Two quality-benchmark models compared turn by turn from the answers their reports keep."""

import argparse
import json

import pytest

import schemas
from benchmarks import paired_turns
from models import features

INTENTS = schemas.intent_labels()
A, B, C = INTENTS[0], INTENTS[1], INTENTS[2]
OOS = features.OUT_OF_SCOPE_INTENT

TURNS = {
    "turn_ids": ["t1", "t2", "t3", "t4", "t5", "t6"],
    "intents": [A, B, C, A, OOS, None],
    "combinations": ["text", "text", "audio", "audio", "text", "audio"],
}
# Best in-scope intents, and served answers (out_of_scope below the model's threshold).
FIRST = {"best_in_scope": [A, B, A, A, A, A], "served": [A, OOS, A, A, A, A]}
SECOND = {"best_in_scope": [A, C, C, B, B, A], "served": [A, C, C, B, OOS, A]}


def _report(path, turns=TURNS, **models):
    path.write_text(
        json.dumps({"test_turns": turns, "models": {n: {"answers": a} for n, a in models.items()}})
    )
    return path


def test_compare_pairs_in_scope_turns_per_combination():
    result = paired_turns.compare(TURNS, FIRST, SECOND)
    every = result["in_scope_best_intent"]["all"]
    # In scope: t1-t4. First right on t1, t2, t4; second on t1, t3.
    assert every["turns"] == 4
    assert (every["first"]["correct"], every["second"]["correct"]) == (3, 2)
    assert (every["only_first_right"], every["only_this_right"]) == (2, 1)
    assert every["p_value"] == pytest.approx(1.0)
    audio = result["in_scope_best_intent"]["audio"]
    assert audio["turns"] == 2  # t6 has no label
    assert (audio["only_first_right"], audio["only_this_right"]) == (1, 1)
    assert result["in_scope_best_intent"]["text"]["first"]["accuracy"] == 1.0


def test_compare_counts_the_served_out_of_scope_flag():
    result = paired_turns.compare(TURNS, FIRST, SECOND)
    served = result["served_answer"]
    # Labelled: t1-t5. First right on t1, t4; second on t1, t3, t5.
    assert served["turns"] == 5
    assert (served["first"]["correct"], served["second"]["correct"]) == (2, 3)
    oos = result["out_of_scope_served"]
    assert (oos["turns"], oos["only_first_right"], oos["only_this_right"]) == (1, 0, 1)


def test_run_writes_json_and_markdown_from_two_reports(tmp_path):
    first = _report(tmp_path / "a.json", fused=FIRST)
    second = _report(tmp_path / "b.json", fused=SECOND)
    args = argparse.Namespace(
        first=("base", (first, "fused")),
        second=("aux", (second, "fused")),
        out=tmp_path / "out" / "paired_0.5",
    )
    report = paired_turns.run(args)
    written = json.loads((tmp_path / "out" / "paired_0.5.json").read_text())
    assert written["in_scope_best_intent"] == report["in_scope_best_intent"]
    assert written["test_turns"] == 6
    text = (tmp_path / "out" / "paired_0.5.md").read_text()
    assert "| all | 4 | 75.0 (3) | 50.0 (2) | 2 | 1 | 1.000 |" in text


def test_reports_over_other_turns_or_without_answers_are_refused(tmp_path):
    first = _report(tmp_path / "a.json", fused=FIRST)
    relabelled = dict(TURNS, intents=[B, B, C, A, OOS, None])
    other = _report(tmp_path / "b.json", turns=relabelled, fused=SECOND)
    args = argparse.Namespace(
        first=("a", (first, "fused")), second=("b", (other, "fused")), out=tmp_path / "x"
    )
    with pytest.raises(ValueError, match="other test turns"):
        paired_turns.run(args)
    with pytest.raises(ValueError, match="no model 'text_only'"):
        paired_turns.model_answers(first, "text_only")
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"models": {"fused": {"overall": {}}}}))
    with pytest.raises(ValueError, match="does not keep"):
        paired_turns.model_answers(old, "fused")
    short = _report(tmp_path / "short.json", fused={"best_in_scope": [A], "served": [A]})
    with pytest.raises(ValueError, match="not one answer per test turn"):
        paired_turns.model_answers(short, "fused")
