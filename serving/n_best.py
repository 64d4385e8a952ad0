"""A turn with audio answered over the speech recognizer's n-best transcripts.

Whisper's beam search ends with several finished transcripts of a clip
(`SpeechRecognizer.hypotheses`, weights adding up to 1). Where the best one mishears the
word that carries the intent ("transistor" for "transfer"), another often has it. The
front ends send the turn once per hypothesis (the same audio, picture and text; only the
`transcript` input differs), in one request, and `combine` makes one answer of them: the
best transcript's answer, with its in-scope intent ranked by the weighted mean of the
hypotheses' intent probabilities.

Whether the turn is out of scope, the confidence and the sentiment stay the best
transcript's: the model's out-of-scope threshold was calibrated on the eval split's best
transcripts, and the dialogue policy's confidence rules read that same quantity. (A mean
over hypotheses moves every turn's top probability: on the test corpus it cost 2.7 points
of out-of-scope recall on voice-only turns; benchmarks/results/n_best_voice_full_mix.md.)
The model and its REST contract do not change: a client that sends one transcript gets the
model's own answer.
"""

import numpy as np

import schemas
from models import features, signatures

_INTENTS = schemas.intent_labels()
_OUT_OF_SCOPE = _INTENTS.index(features.OUT_OF_SCOPE_INTENT)


def transcript_rows(hypotheses) -> list[tuple[str | None, float]]:
    """(transcript to send, weight) for each row a turn is sent as, best first. The first
    row keeps the turn's own transcript (None: what ingestion writes, the beam's best for
    all but about 1 clip in 650); the others carry the other hypotheses. With fewer than
    two hypotheses the turn is one row, as it is."""
    if len(hypotheses) < 2:
        return [(None, 1.0)]
    first, *others = hypotheses
    return [(None, first.weight)] + [(h.text, h.weight) for h in others]


def best_in_scope(probabilities) -> np.ndarray:
    """Index of the most probable in-scope intent of each row of `probabilities` [..., 78]."""
    masked = np.array(probabilities, dtype=np.float64)
    masked[..., _OUT_OF_SCOPE] = -1.0
    return masked.argmax(axis=-1)


def mean_intent_probabilities(predictions: list[dict], weights: list[float]) -> np.ndarray:
    """The hypotheses' intent probabilities, weighted."""
    if len(predictions) != len(weights) or not predictions:
        raise ValueError(f"{len(predictions)} predictions for {len(weights)} weights")
    rows = np.array([p[signatures.INTENT_PROBABILITIES_OUTPUT] for p in predictions])
    return np.asarray(weights, dtype=np.float64) @ rows


def combine(predictions: list[dict], weights: list[float]) -> dict:
    """One answer from the model's answers to each hypothesis of a turn, best first.

    Args:
        predictions: `serving_default` outputs of each hypothesis, as JSON values
            (probabilities as lists, the out-of-scope flag as a bool); the first is the
            best transcript's.
        weights: each hypothesis's weight; they add up to 1.

    Returns:
        The first answer, with `intent_probabilities` the weighted mean and, unless the
        first answer is out of scope, `intent` the best in-scope intent of that mean.
    """
    if len(predictions) != len(weights) or not predictions:
        raise ValueError(f"{len(predictions)} predictions for {len(weights)} weights")
    answer = dict(predictions[0])
    if len(predictions) == 1:
        return answer
    mean = mean_intent_probabilities(predictions, weights)
    answer[signatures.INTENT_PROBABILITIES_OUTPUT] = [round(float(v), 6) for v in mean]
    if not answer[signatures.OUT_OF_SCOPE_OUTPUT]:
        answer[signatures.INTENT_OUTPUT] = _INTENTS[int(best_in_scope(mean))]
    return answer
