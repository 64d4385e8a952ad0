"""Combining the model's answers to a turn's n-best transcripts into one answer."""

import numpy as np
import pytest

import schemas
from models import features, signatures
from serving import n_best

INTENTS = schemas.intent_labels()
SENTIMENTS = schemas.sentiment_labels()
OOS = INTENTS.index(features.OUT_OF_SCOPE_INTENT)


def _prediction(intent_index: int, confidence: float, out_of_scope: bool, sentiment: int = 0):
    probabilities = np.full(len(INTENTS), (1.0 - confidence) / (len(INTENTS) - 1))
    probabilities[intent_index] = confidence
    sentiments = np.full(len(SENTIMENTS), 0.1)
    sentiments[sentiment] = 1.0 - 0.1 * (len(SENTIMENTS) - 1)
    return {
        signatures.INTENT_OUTPUT: (
            features.OUT_OF_SCOPE_INTENT if out_of_scope else INTENTS[intent_index]
        ),
        signatures.INTENT_PROBABILITIES_OUTPUT: probabilities.tolist(),
        signatures.CONFIDENCE_OUTPUT: confidence,
        signatures.OUT_OF_SCOPE_OUTPUT: out_of_scope,
        signatures.SENTIMENT_OUTPUT: SENTIMENTS[sentiment],
        signatures.SENTIMENT_PROBABILITIES_OUTPUT: sentiments.tolist(),
    }


def test_one_hypothesis_is_the_models_own_answer():
    answer = _prediction(3, 0.9, False)
    assert n_best.combine([answer], [1.0]) == answer


def test_the_intent_is_the_best_of_the_weighted_mean():
    # The best transcript says intent 3 (0.5); two others say intent 7 (0.8 each).
    answers = [_prediction(3, 0.5, False), _prediction(7, 0.8, False), _prediction(7, 0.8, False)]
    combined = n_best.combine(answers, [0.5, 0.25, 0.25])
    assert combined[signatures.INTENT_OUTPUT] == INTENTS[7]
    rows = np.array([a[signatures.INTENT_PROBABILITIES_OUTPUT] for a in answers])
    mean = np.array([0.5, 0.25, 0.25]) @ rows
    assert combined[signatures.INTENT_PROBABILITIES_OUTPUT] == pytest.approx(mean, abs=1e-6)
    assert sum(combined[signatures.INTENT_PROBABILITIES_OUTPUT]) == pytest.approx(1.0, abs=1e-4)
    # Heavier weight on the best transcript keeps its intent.
    assert n_best.combine(answers, [0.8, 0.1, 0.1])[signatures.INTENT_OUTPUT] == INTENTS[3]


def test_out_of_scope_confidence_and_sentiment_stay_the_best_transcripts():
    # The threshold was calibrated on best transcripts; the policy reads that confidence.
    first = _prediction(3, 0.2, True, sentiment=0)
    others = [_prediction(5, 0.9, False, sentiment=2)] * 2
    combined = n_best.combine([first, *others], [0.2, 0.4, 0.4])
    assert combined[signatures.OUT_OF_SCOPE_OUTPUT] is True
    assert combined[signatures.INTENT_OUTPUT] == features.OUT_OF_SCOPE_INTENT
    assert combined[signatures.CONFIDENCE_OUTPUT] == 0.2
    assert combined[signatures.SENTIMENT_OUTPUT] == SENTIMENTS[0]
    # An in-scope best transcript is never flagged by the others.
    kept = n_best.combine([_prediction(3, 0.9, False), _prediction(3, 0.1, True)], [0.3, 0.7])
    assert kept[signatures.OUT_OF_SCOPE_OUTPUT] is False
    assert kept[signatures.INTENT_OUTPUT] == INTENTS[3]


def test_the_intent_is_never_the_out_of_scope_class_by_probability():
    answers = [_prediction(OOS, 0.9, False), _prediction(OOS, 0.9, False)]
    combined = n_best.combine(answers, [0.5, 0.5])
    assert combined[signatures.INTENT_OUTPUT] != features.OUT_OF_SCOPE_INTENT


def test_predictions_and_weights_must_pair_up():
    with pytest.raises(ValueError, match="2 predictions for 1 weights"):
        n_best.combine([_prediction(1, 0.9, False)] * 2, [1.0])
    with pytest.raises(ValueError):
        n_best.combine([], [])
