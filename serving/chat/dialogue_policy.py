"""The dialogue policy: what the service does with one customer turn, given the others.

Pure functions over model outputs, so every rule is tested with constructed outputs.
The rules, in order (the README's "The customer-service service" lists them too):

1. After a handoff, every reply says that a person will take over.
2. An explicit request for a person (see HANDOFF_REQUEST_PATTERNS) hands off.
3. No model output (the model server failed): a graceful reply; nothing else changes.
4. Negative sentiment in `negative_handoff_count` of the last `negative_window` turns
   (this one included) hands off.
5. The turn is clear when it is in scope with confidence >= `confidence_threshold`.
   A vague turn borrows context: when one of the previous `context_lookback` turns was
   itself clear, the in-scope intent distributions are mixed,
   `(1 - context_weight) * now + context_weight * then`, and the mixture's best intent
   answers if its probability reaches the threshold.
6. A clear turn is answered from the knowledge base. An unclear one gets a clarifying
   question; an unclear turn right after a clarifying question hands off.
"""

import dataclasses
import re
from collections.abc import Sequence

import schemas
from serving.chat.knowledge_base import KnowledgeBase
from serving.chat.model_client import ModelOutput

ANSWER = "answer"
CLARIFY = "clarify"
HANDOFF = "handoff"
AFTER_HANDOFF = "after_handoff"
MODEL_UNAVAILABLE = "model_unavailable"
ACTIONS = (ANSWER, CLARIFY, HANDOFF, AFTER_HANDOFF, MODEL_UNAVAILABLE)

OUT_OF_SCOPE = "out_of_scope"
NEGATIVE = "negative"

# An explicit request for a person. Bare "someone"/"person" are not enough: "someone is
# using my card" is a fraud report, not a request for an agent.
HANDOFF_REQUEST_PATTERNS = (
    r"\b(human|agent|representative|operator)s?\b",
    r"\b(speak|talk|chat)\s+(to|with)\s+(a\s+|an\s+|the\s+|some\s+|your\s+)?(real\s+|live\s+)?"
    r"(person|people|someone|somebody|staff|manager|advisor|adviser)\b",
    r"\b(real|live)\s+(person|human)\b",
    r"\b(connect|transfer|put)\s+me\s+(to|with|through)\b",
)
_HANDOFF_REQUEST = re.compile("|".join(HANDOFF_REQUEST_PATTERNS), re.IGNORECASE)


@dataclasses.dataclass(frozen=True)
class PolicyConfig:
    """The policy's thresholds (the CLI sets `confidence_threshold`)."""

    confidence_threshold: float = 0.5
    context_weight: float = 0.5
    context_lookback: int = 3
    negative_window: int = 3
    negative_handoff_count: int = 2


DEFAULT_POLICY = PolicyConfig()


@dataclasses.dataclass(frozen=True)
class PastTurn:
    """An earlier turn of the conversation as the policy needs it."""

    turn_index: int
    model_output: ModelOutput | None  # None when the model server failed
    action: str


@dataclasses.dataclass(frozen=True)
class Decision:
    """What to do with the current turn."""

    action: str  # one of ACTIONS
    reply: str
    intent: str | None = None  # the intent the reply is about (after context), if any
    confidence: float | None = None  # its probability
    context_turn_index: int | None = None  # the earlier turn whose context was used
    handoff_reason: str | None = None  # set when action is HANDOFF


def asks_for_person(text: str) -> bool:
    """True when the customer explicitly asks for a human (the keyword rule)."""
    return bool(text) and _HANDOFF_REQUEST.search(text) is not None


def is_clear(output: ModelOutput, config: PolicyConfig) -> bool:
    return not output.out_of_scope and output.confidence >= config.confidence_threshold


def _best_in_scope(probabilities: Sequence[float]) -> tuple[str, float]:
    labels = schemas.intent_labels()
    best = max(
        (i for i, label in enumerate(labels) if label != OUT_OF_SCOPE),
        key=lambda i: probabilities[i],
    )
    return labels[best], float(probabilities[best])


def resolve_with_context(
    output: ModelOutput, history: Sequence[PastTurn], config: PolicyConfig
) -> tuple[str, float, int] | None:
    """The intent of a vague turn read together with the last clear turn (rule 5).

    Returns:
      (intent, mixed probability, index of the turn used), or None when no earlier clear
      turn is within `context_lookback` turns or the mixture is still below the threshold.
    """
    for past in list(history)[::-1][: config.context_lookback]:
        if past.model_output is None or not is_clear(past.model_output, config):
            continue
        weight = config.context_weight
        mixed = [
            (1 - weight) * now + weight * then
            for now, then in zip(
                output.intent_probabilities, past.model_output.intent_probabilities, strict=True
            )
        ]
        intent, probability = _best_in_scope(mixed)
        if probability >= config.confidence_threshold:
            return intent, probability, past.turn_index
        return None
    return None


def _negative_streak(output: ModelOutput, history: Sequence[PastTurn], config: PolicyConfig):
    recent = [p.model_output for p in history if p.model_output is not None]
    window = (
        [*recent[-(config.negative_window - 1) :], output]
        if config.negative_window > 1
        else [output]
    )
    return sum(o.sentiment == NEGATIVE for o in window) >= config.negative_handoff_count


def _after_clarification(history: Sequence[PastTurn]) -> bool:
    """Whether the last answered turn (model failures skipped) was a clarifying question."""
    for past in reversed(history):
        if past.action != MODEL_UNAVAILABLE:
            return past.action == CLARIFY
    return False


def decide(
    text: str,
    output: ModelOutput | None,
    history: Sequence[PastTurn],
    handed_off: bool,
    knowledge_base: KnowledgeBase,
    config: PolicyConfig = DEFAULT_POLICY,
) -> Decision:
    """Applies the rules of the module docstring to the current turn.

    Args:
      text: the customer's text ("" when none).
      output: the model's prediction, None when the model server failed.
      history: the earlier turns of the conversation, oldest first.
      handed_off: whether the conversation already went to a person.
      knowledge_base: replies and messages.
      config: thresholds.
    """
    intent = output.intent if output else None
    confidence = output.confidence if output else None
    if handed_off:
        return Decision(AFTER_HANDOFF, knowledge_base.after_handoff, intent, confidence)
    if asks_for_person(text):
        return Decision(
            HANDOFF,
            knowledge_base.handoff["customer_request"],
            intent,
            confidence,
            handoff_reason="customer_request",
        )
    if output is None:
        return Decision(MODEL_UNAVAILABLE, knowledge_base.model_unavailable)
    if _negative_streak(output, history, config):
        return Decision(
            HANDOFF,
            knowledge_base.handoff["negative_sentiment"],
            intent,
            confidence,
            handoff_reason="negative_sentiment",
        )
    if is_clear(output, config):
        return Decision(ANSWER, knowledge_base.reply(output.intent), output.intent, confidence)
    context = resolve_with_context(output, history, config)
    if context is not None:
        context_intent, probability, turn_index = context
        return Decision(
            ANSWER,
            knowledge_base.reply(context_intent),
            context_intent,
            probability,
            context_turn_index=turn_index,
        )
    if _after_clarification(history):
        return Decision(
            HANDOFF, knowledge_base.handoff["unclear"], intent, confidence, handoff_reason="unclear"
        )
    if output.out_of_scope:
        # The out_of_scope entry is itself a question: what about your account?
        return Decision(CLARIFY, knowledge_base.reply(OUT_OF_SCOPE), intent, confidence)
    guess, _ = _best_in_scope(output.intent_probabilities)
    return Decision(CLARIFY, knowledge_base.clarifying_question(guess), intent, confidence)
