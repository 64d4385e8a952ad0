"""The dialogue policy's rules on constructed model outputs (no model, no HTTP)."""

import pytest

import schemas
from serving.chat import dialogue_policy, knowledge_base
from serving.chat.dialogue_policy import (
    AFTER_HANDOFF,
    ANSWER,
    CLARIFY,
    HANDOFF,
    MODEL_UNAVAILABLE,
    PastTurn,
    PolicyConfig,
    decide,
)
from serving.chat.model_client import ModelOutput
from tests.serving.chat.fake_model import prediction

KB = knowledge_base.load()
CONFIG = PolicyConfig(confidence_threshold=0.5)


def output(intent, confidence, sentiment="neutral", out_of_scope=False) -> ModelOutput:
    return ModelOutput.from_json(prediction(intent, confidence, sentiment, out_of_scope))


def past(index, model_output, action=ANSWER) -> PastTurn:
    return PastTurn(index, model_output, action)


def test_a_confident_in_scope_turn_is_answered_from_the_knowledge_base():
    decision = decide("where is my card", output("card_arrival", 0.8), [], False, KB, CONFIG)
    assert decision.action == ANSWER
    assert decision.intent == "card_arrival"
    assert decision.confidence == pytest.approx(0.8)
    assert decision.reply == KB.reply("card_arrival")
    assert decision.handoff_reason is None and decision.context_turn_index is None


def test_low_confidence_asks_a_clarifying_question_naming_the_best_guess():
    decision = decide("hmm", output("pin_blocked", 0.3), [], False, KB, CONFIG)
    assert decision.action == CLARIFY
    assert KB.intents["pin_blocked"].topic in decision.reply
    assert decision.reply == KB.clarifying_question("pin_blocked")


def test_out_of_scope_asks_the_out_of_scope_question():
    decision = decide(
        "pizza?", output("card_arrival", 0.2, out_of_scope=True), [], False, KB, CONFIG
    )
    assert decision.action == CLARIFY
    assert decision.reply == KB.reply("out_of_scope")


def test_a_second_unclear_turn_after_a_clarifying_question_hands_off():
    history = [past(0, output("pin_blocked", 0.3), CLARIFY)]
    decision = decide("dunno", output("change_pin", 0.2), history, False, KB, CONFIG)
    assert decision.action == HANDOFF
    assert decision.handoff_reason == "unclear"
    assert decision.reply == KB.handoff["unclear"]
    # A model failure in between does not reset the count.
    history.append(past(1, None, MODEL_UNAVAILABLE))
    assert decide("?", output("change_pin", 0.2), history, False, KB, CONFIG).action == HANDOFF


def test_a_clear_answer_after_a_clarifying_question_is_answered():
    history = [past(0, output("pin_blocked", 0.3), CLARIFY)]
    decision = decide("my pin", output("pin_blocked", 0.9), history, False, KB, CONFIG)
    assert decision.action == ANSWER and decision.intent == "pin_blocked"


def test_an_unclear_turn_after_an_answer_is_clarified_not_handed_off():
    history = [past(0, output("pin_blocked", 0.3), CLARIFY), past(1, output("pin_blocked", 0.9))]
    # No context either: the vague turn points elsewhere, the mixture stays below 0.5.
    decision = decide("?", output("card_arrival", 0.3), history, False, KB, CONFIG)
    assert decision.action == CLARIFY


def test_a_vague_turn_borrows_the_intent_of_an_earlier_confident_turn():
    earlier = output("card_arrival", 0.9)
    vague = output("card_arrival", 0.2)  # same direction, too weak alone
    decision = decide("and how long?", vague, [past(0, earlier)], False, KB, CONFIG)
    assert decision.action == ANSWER
    assert decision.intent == "card_arrival"
    assert decision.context_turn_index == 0
    assert decision.confidence == pytest.approx(0.5 * 0.2 + 0.5 * 0.9)
    assert decision.reply == KB.reply("card_arrival")


def test_context_does_not_override_a_vague_turn_pointing_elsewhere():
    earlier = output("card_arrival", 0.9)
    vague = output("exchange_rate", 0.4)
    # Mixed: card_arrival 0.5*0.9 + 0.5*rest < 0.5 -> still unclear.
    decision = decide("what about rates", vague, [past(0, earlier)], False, KB, CONFIG)
    assert decision.action == CLARIFY
    assert decision.context_turn_index is None


def test_context_only_reaches_back_context_lookback_turns():
    earlier = output("card_arrival", 0.9)
    unclear = output("card_arrival", 0.1)
    history = [past(0, earlier)] + [past(i, unclear, MODEL_UNAVAILABLE) for i in (1, 2, 3)]
    decision = decide("?", output("card_arrival", 0.2), history, False, KB, CONFIG)
    assert decision.action == CLARIFY
    wider = PolicyConfig(confidence_threshold=0.5, context_lookback=4)
    assert decide("?", output("card_arrival", 0.2), history, False, KB, wider).action == ANSWER


def test_context_weight_is_configurable():
    earlier, vague = output("card_arrival", 0.9), output("card_arrival", 0.2)
    no_context = PolicyConfig(confidence_threshold=0.5, context_weight=0.0)
    assert decide("?", vague, [past(0, earlier)], False, KB, no_context).action == CLARIFY


@pytest.mark.parametrize(
    "text",
    [
        "I want to speak to a human",
        "AGENT please",
        "can I talk to someone",
        "let me speak with a real person",
        "connect me to your team",
        "representative",
    ],
)
def test_an_explicit_request_for_a_person_hands_off(text):
    decision = decide(text, output("card_arrival", 0.95), [], False, KB, CONFIG)
    assert decision.action == HANDOFF
    assert decision.handoff_reason == "customer_request"
    assert decision.reply == KB.handoff["customer_request"]


@pytest.mark.parametrize(
    "text", ["someone is using my card", "my card arrived", "personal details", "humane"]
)
def test_words_near_the_keywords_do_not_hand_off(text):
    assert not dialogue_policy.asks_for_person(text)
    assert decide(text, output("compromised_card", 0.9), [], False, KB, CONFIG).action == ANSWER


def test_negative_sentiment_in_two_of_the_last_three_turns_hands_off():
    negative = output("card_arrival", 0.9, "negative")
    neutral = output("card_arrival", 0.9, "neutral")
    # One negative turn alone: answered.
    assert decide("x", negative, [], False, KB, CONFIG).action == ANSWER
    # Negative two turns back, neutral in between, negative now: 2 of the last 3.
    history = [past(0, negative), past(1, neutral)]
    decision = decide("x", negative, history, False, KB, CONFIG)
    assert decision.action == HANDOFF and decision.handoff_reason == "negative_sentiment"
    assert decision.reply == KB.handoff["negative_sentiment"]
    # Three turns back falls out of the window.
    history = [past(0, negative), past(1, neutral), past(2, neutral)]
    assert decide("x", negative, history, False, KB, CONFIG).action == ANSWER


def test_after_handoff_every_reply_says_a_person_will_take_over():
    for model_output in (output("card_arrival", 0.99), None):
        decision = decide("hello?", model_output, [], True, KB, CONFIG)
        assert decision.action == AFTER_HANDOFF
        assert decision.reply == KB.after_handoff
        assert "take over" in decision.reply


def test_no_model_output_gets_the_graceful_reply_without_a_handoff():
    history = [past(0, output("card_arrival", 0.3), CLARIFY)]
    decision = decide("hello", None, history, False, KB, CONFIG)
    assert decision.action == MODEL_UNAVAILABLE
    assert decision.reply == KB.model_unavailable
    assert decision.handoff_reason is None and decision.intent is None


def test_the_threshold_is_configurable():
    turn = output("card_arrival", 0.6)
    assert decide("x", turn, [], False, KB, PolicyConfig(confidence_threshold=0.5)).action == ANSWER
    assert (
        decide("x", turn, [], False, KB, PolicyConfig(confidence_threshold=0.7)).action == CLARIFY
    )


def test_every_label_has_a_position_for_context_mixing():
    assert len(output("card_arrival", 0.5).intent_probabilities) == len(schemas.intent_labels())
