"""The typed-text BANKING77 benchmark's statistics and its reading of the rendered corpus."""

import argparse
import json

import numpy as np
import pytest

import schemas
from benchmarks import banking77_text
from models import features

INTENTS = schemas.intent_labels()


def test_wilson_interval_matches_the_textbook_value():
    # 81 of 100: the Wilson 95 % interval is 0.7222-0.8749 (e.g. R's prop.test, no
    # continuity correction).
    low, high = banking77_text.wilson_interval(81, 100)
    assert low == pytest.approx(0.7222, abs=1e-4)
    assert high == pytest.approx(0.8749, abs=1e-4)
    assert banking77_text.wilson_interval(10, 10)[1] == pytest.approx(1.0)
    assert banking77_text.wilson_interval(0, 0) == (0.0, 1.0)


def test_needed_to_beat_is_strictly_above_the_reference():
    assert banking77_text.needed_to_beat(0.9366, 1540) == 1443
    assert 1443 / 1540 > 0.9366 >= 1442 / 1540
    # A reference hit exactly needs one more.
    assert banking77_text.needed_to_beat(0.5, 10) == 6


def test_mcnemar_counts_only_discordant_queries():
    a = np.array([True, True, True, False, False, True])
    b = np.array([True, False, False, False, True, True])
    result = banking77_text.mcnemar(a, b)
    assert (result["only_first_right"], result["only_this_right"]) == (2, 1)
    assert result["p_value"] == pytest.approx(1.0)
    lopsided = banking77_text.mcnemar(np.ones(12, bool), np.zeros(12, bool))
    assert lopsided["p_value"] == pytest.approx(2 * 0.5**12)
    assert banking77_text.mcnemar(a, a)["p_value"] == 1.0


def test_text_turns_are_in_scope_typed_text_without_attachments(tmp_path):
    records = [
        {"text": "my card is lost", "image": None, "audio": None, "intent": "lost_or_stolen_card"},
        {"text": "see attached", "image": None, "audio": None, "intent": "card_arrival"},
        {"text": "pin blocked", "image": "a.png", "audio": None, "intent": "pin_blocked"},
        {"text": "top up failed", "image": None, "audio": "a.wav", "intent": "top_up_failed"},
        {"text": "weather?", "image": None, "audio": None, "intent": features.OUT_OF_SCOPE_INTENT},
        {"text": "great service", "image": None, "audio": None, "intent": None},
        {"text": None, "image": None, "audio": "b.wav", "intent": "card_arrival"},
    ]
    (tmp_path / "turns-00000.jsonl").write_text("\n".join(json.dumps(r) for r in records))
    assert banking77_text.text_turn_texts(tmp_path) == {"my card is lost"}


def test_model_flag_needs_a_name_and_a_folder():
    assert banking77_text._named_model("fused=runs/m") == ("fused", "runs/m")
    for bad in ("runs/m", "=runs/m", "fused="):
        with pytest.raises(argparse.ArgumentTypeError):
            banking77_text._named_model(bad)


def test_default_models_are_where_the_quality_benchmark_pushes_them(tmp_path):
    fused = banking77_text.pushed_model_dir(tmp_path, "fused")
    text_only = banking77_text.pushed_model_dir(tmp_path, "text_only")
    assert fused.startswith(str(tmp_path / "quality-fused-full-"))
    assert text_only.startswith(str(tmp_path / "quality-text_only-full-"))
    assert fused.endswith("/serving/mmcs")
    assert banking77_text.DEFAULT_MODELS == ("fused", "text_only")


def _queries(*pairs) -> list:
    return [banking77_text.Query(text, intent, 3, False) for text, intent in pairs]


def test_the_query_digest_changes_with_texts_labels_and_order():
    queries = _queries(("lost my card", "lost_or_stolen_card"), ("where is it", "card_arrival"))
    digest = banking77_text.query_set_digest(queries)
    assert digest == banking77_text.query_set_digest(list(queries))
    assert digest != banking77_text.query_set_digest(queries[::-1])
    relabelled = _queries(("lost my card", "card_arrival"), ("where is it", "card_arrival"))
    assert digest != banking77_text.query_set_digest(relabelled)


def test_a_recorded_models_answers_are_scored_against_these_queries(tmp_path):
    queries = _queries(
        ("lost my card", "lost_or_stolen_card"),
        ("where is it", "card_arrival"),
        ("top up failed", "top_up_failed"),
    )
    report = {
        "date": "2026-12-01T00:00:00+00:00",
        "queries_sha256": banking77_text.query_set_digest(queries),
        "models": {
            "old": {
                "correct": 2,
                "model_dir": "runs/old",
                "answers": ["lost_or_stolen_card", "card_delivery_estimate", "top_up_failed"],
                "against_other": {"p_value": 0.5},
            },
            "older": {"correct": 2, "model_dir": "runs/older"},
        },
    }
    path = tmp_path / "banking77_text.json"
    path.write_text(json.dumps(report))

    result, right = banking77_text.recorded_model(path, "old", queries)
    np.testing.assert_array_equal(right, [True, False, True])
    assert result["model_dir"] == "runs/old"
    assert result["recorded_in"] == f"{path} (2026-12-01T00:00:00+00:00)"
    assert "against_other" not in result
    with pytest.raises(ValueError, match="does not record model 'older'"):
        banking77_text.recorded_model(path, "older", queries)
    with pytest.raises(ValueError, match="has no model 'newest'"):
        banking77_text.recorded_model(path, "newest", queries)
    with pytest.raises(ValueError, match="other test queries"):
        banking77_text.recorded_model(path, "old", queries[:2])


def test_recorded_flag_needs_a_name_a_report_and_a_model():
    assert banking77_text.recorded_model_flag("base=results/b.json:fused") == (
        "base",
        (banking77_text.Path("results/b.json"), "fused"),
    )
    for bad in ("results/b.json:fused", "base=results/b.json", "base=:fused", "base=b.json:"):
        with pytest.raises(argparse.ArgumentTypeError):
            banking77_text.recorded_model_flag(bad)
