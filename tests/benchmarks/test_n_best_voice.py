"""The n-best benchmark's variants and scores, on scripted model answers."""

import numpy as np
import pytest

import schemas
from benchmarks import n_best_voice
from models import features, signatures
from serving.batch_predict import TurnInputs

INTENTS = schemas.intent_labels()


def _answer(intent: str, confidence: float, out_of_scope: bool = False) -> dict:
    probabilities = np.full(len(INTENTS), (1.0 - confidence) / (len(INTENTS) - 1))
    probabilities[INTENTS.index(intent)] = confidence
    return {
        signatures.INTENT_OUTPUT: features.OUT_OF_SCOPE_INTENT if out_of_scope else intent,
        signatures.INTENT_PROBABILITIES_OUTPUT: probabilities.tolist(),
        signatures.CONFIDENCE_OUTPUT: confidence,
        signatures.OUT_OF_SCOPE_OUTPUT: out_of_scope,
        signatures.SENTIMENT_OUTPUT: "neutral",
        signatures.SENTIMENT_PROBABILITIES_OUTPUT: [0.2, 0.6, 0.2],
    }


def test_variants_rank_over_the_mean_and_flag_out_of_scope_their_own_way():
    # The best transcript is flagged out of scope; the two others are sure of card_arrival.
    answers = [
        _answer("lost_or_stolen_card", 0.2, out_of_scope=True),
        _answer("card_arrival", 0.9),
        _answer("card_arrival", 0.9),
    ]
    variants = n_best_voice._variant_answers(answers, np.array([0.4, 0.3, 0.3]))
    first = np.array(answers[0][signatures.INTENT_PROBABILITIES_OUTPUT])
    ranking, scoring, served = variants["one_best"]
    assert served == features.OUT_OF_SCOPE_INTENT and np.array_equal(ranking, first)
    # The front ends' answer: ranked over the mean, out of scope as the best transcript says.
    ranking, scoring, served = variants["n_best_intent"]
    assert INTENTS[int(np.argmax(ranking))] == "card_arrival"
    assert np.array_equal(scoring, first)
    assert served == features.OUT_OF_SCOPE_INTENT
    # The weighted mean for everything: 0.6 of the weight says in scope.
    ranking, scoring, served = variants["n_best"]
    assert served == "card_arrival" and np.array_equal(ranking, scoring)


def _turn(index: int, modalities: str, intent: str) -> TurnInputs:
    return TurnInputs(f"t{index}", "s", "src", {}, modalities, intent)


def test_scores_count_each_combination_against_the_best_transcript():
    turns = [
        _turn(0, "audio", "card_arrival"),
        _turn(1, "audio", "card_arrival"),
        _turn(2, "audio", features.OUT_OF_SCOPE_INTENT),
        _turn(3, "audio+text", "lost_or_stolen_card"),
    ]

    def probabilities(*intents):
        return [np.array(_answer(i, 0.9)[signatures.INTENT_PROBABILITIES_OUTPUT]) for i in intents]

    one = probabilities("card_arrival", "lost_or_stolen_card", "card_arrival", "card_arrival")
    many = probabilities("card_arrival", "card_arrival", "card_arrival", "lost_or_stolen_card")
    answered = {
        "variants": {
            variant: {"probabilities": p, "oos_probabilities": p, "served": ["x"] * 4}
            for variant, p in zip(n_best_voice._VARIANTS, (one, many, many, many), strict=True)
        }
    }
    figures = n_best_voice.scores(turns, answered)
    voice = figures["audio"]
    assert (voice["in_scope_turns"], voice["oos_turns"]) == (2, 1)
    assert voice["one_best"]["in_scope_correct"] == 1
    assert voice["n_best_intent"]["in_scope_correct"] == 2
    assert voice["n_best_intent"]["against_one_best"]["only_this_right"] == 1
    assert voice["n_best_intent"]["against_one_best"]["only_first_right"] == 0
    assert figures["audio+text"]["n_best"]["in_scope_accuracy"] == pytest.approx(1.0)
    assert figures["image+audio+text"]["one_best"] == {}
