"""The serving-mix cost benchmark: its batches, its timing summary, and that its agreement
check tells a mix confined to text-only turns from one that is not (tiny model)."""

import numpy as np
import pytest

from benchmarks import served_mix_cost
from models import features
from models.fusion_model import MODALITIES, TEXT
from models.served_intent import TEXT_ONLY, TYPED_TEXT
from models.training_config import TrainingConfig
from tests.models.test_fusion_model import (
    TINY_VOCABULARY_SIZE,
    tiny_config,
    tiny_image_backbone,
    tiny_text_backbone,
)


def _training(scope=TEXT_ONLY, weight=0.5) -> TrainingConfig:
    return TrainingConfig(
        model=tiny_config(),
        text_intent_loss_weight=1.0,
        text_intent_serving_weight=weight,
        text_intent_serving_scope=scope,
    )


def _measure(training: TrainingConfig, batch_sizes=(1, 6)) -> dict:
    return served_mix_cost.measure(
        training,
        tiny_text_backbone(),
        tiny_image_backbone(training.model.image_size),
        TINY_VOCABULARY_SIZE,
        batch_sizes=batch_sizes,
        rounds=3,
    )


def test_batches_start_with_a_text_only_turn_and_cycle_over_the_combinations():
    presence = served_mix_cost.presence_rows(MODALITIES, 7)
    text_only = served_mix_cost.text_only_rows(MODALITIES, presence)
    # Rows 0 and 5 are text-only; row 1 has text with a picture, row 6 repeats it.
    assert text_only.tolist() == [True, False, False, False, False, True, False]
    np.testing.assert_array_equal(presence[6], presence[1])
    assert presence[1, MODALITIES.index(TEXT)] == 1 and presence[1].sum() == 3


def test_the_summary_pairs_rounds():
    summary = served_mix_cost.timing_summary([0.010, 0.020, 0.030], [0.011, 0.022, 0.030])
    assert summary["rounds"] == 3
    assert summary["plain_p50_ms"] == pytest.approx(20.0)
    assert summary["mixed_p50_ms"] == pytest.approx(22.0)
    assert summary["added_p50_ms"] == pytest.approx(2.0)
    # Per-round ratios 1.1, 1.1, 1.0.
    assert summary["paired_ratio_median"] == pytest.approx(1.1)
    low, high = summary["paired_ratio_median_95ci"]
    assert 1.0 <= low <= 1.1 <= high <= 1.1 + 1e-9
    with pytest.raises(ValueError):
        served_mix_cost.timing_summary([0.01], [0.01, 0.02])


def test_the_text_only_mix_changes_only_text_only_turns():
    batches = _measure(_training())
    for batch_size, row in batches.items():
        agree = row["agreement"]
        assert agree["other_rows_agree"], batch_size
        assert agree["text_only_rows"] == 1 + (int(batch_size) > 5)
        assert agree["intent_max_difference_text_only"] > 1e-4
        assert agree["sentiment_max_difference"] < 1e-6
        assert row["rounds"] == 3 and row["plain_p50_ms"] > 0 and row["mixed_p50_ms"] > 0
    text = served_mix_cost.report(
        {
            "date": "2026-12-06T00:00:00+00:00",
            "machine": {
                "cpus": 2,
                "cpu_model": "cpu",
                "platform": "linux",
                "python": "3.10",
                "load_average_1m_before": 0.1,
                "load_average_1m_after": 0.2,
            },
            "profile": "full",
            "text_intent_serving_weight": 0.5,
            "text_intent_serving_scope": TEXT_ONLY,
            "row_combinations": ["text"],
            "batches": batches,
        }
    )
    assert "| 6 | 3 |" in text and "they agree" in text


def test_a_mix_on_every_typed_turn_is_caught_by_the_agreement_check():
    # Row 1 of the batch has typed text with a picture: the typed_text scope mixes there.
    agree = _measure(_training(scope=TYPED_TEXT), batch_sizes=(6,))["6"]["agreement"]
    assert not agree["other_rows_agree"]
    assert agree["intent_max_difference_other"] > 1e-4


def test_agreement_compares_logits_with_log_probabilities():
    logits = np.array([[2.0, 0.0, -1.0], [0.5, 0.5, 3.0]])
    log_probabilities = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    sentiment = np.zeros((2, 3))
    plain = {features.INTENT_KEY: logits, features.SENTIMENT_KEY: sentiment}
    same = {features.INTENT_KEY: log_probabilities, features.SENTIMENT_KEY: sentiment}
    agree = served_mix_cost.agreement(plain, same, np.array([False, False]))
    assert agree["other_rows_agree"] and agree["intent_max_difference_other"] < 1e-12


def test_a_configuration_without_a_mix_is_refused():
    with pytest.raises(ValueError, match="no typed-text mix"):
        _measure(_training(weight=0.0), batch_sizes=(1,))
