"""The out-of-scope threshold, calibrated on the eval split after training.

A turn is flagged out of scope when no in-scope intent gets at least `threshold`
probability. The threshold is the `false_rejection_rate` quantile of that score over the
labelled in-scope eval turns: at most that share of in-scope turns is wrongly flagged on
the eval split, and as many out-of-scope turns as the model allows are caught. This is
the operating point the quality benchmark reports (out-of-scope recall at 5 % in-scope
false rejection).
"""

import dataclasses

import numpy as np


def max_in_scope_probability(intent_probabilities: np.ndarray, out_of_scope_index: int):
    """[batch, intents] probabilities -> [batch] highest probability of an in-scope intent."""
    return np.delete(np.asarray(intent_probabilities), out_of_scope_index, axis=1).max(axis=1)


@dataclasses.dataclass(frozen=True)
class OutOfScopeCalibration:
    """The chosen threshold and what it does on the eval split."""

    threshold: float
    false_rejection_rate_target: float
    in_scope_turns: int
    out_of_scope_turns: int
    false_rejection_rate: float | None  # measured on the eval split
    out_of_scope_recall: float | None  # measured on the eval split
    calibrated: bool  # False: too few labelled turns, the fallback threshold was kept

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def calibrate(
    intent_probabilities: np.ndarray,
    intent_labels: np.ndarray,
    out_of_scope_index: int,
    false_rejection_rate: float,
    fallback_threshold: float,
    min_in_scope_turns: int = 20,
) -> OutOfScopeCalibration:
    """Chooses the threshold from eval predictions.

    Args:
      intent_probabilities: [n, intents] softmax outputs on eval turns.
      intent_labels: [n] label indices; negative where the turn has no intent label.
      out_of_scope_index: index of the out_of_scope class.
      false_rejection_rate: the share of in-scope turns that may be flagged (e.g. 0.05).
      fallback_threshold: kept when fewer than min_in_scope_turns labelled in-scope turns.
    """
    if not 0.0 <= false_rejection_rate < 1.0:
        raise ValueError(f"false_rejection_rate must be in [0, 1), got {false_rejection_rate}")
    labels = np.asarray(intent_labels).reshape(-1)
    probabilities = np.asarray(intent_probabilities)
    if probabilities.shape[0] != labels.shape[0]:
        raise ValueError(f"{probabilities.shape[0]} probability rows for {labels.shape[0]} labels")
    score = max_in_scope_probability(probabilities, out_of_scope_index)
    in_scope = (labels >= 0) & (labels != out_of_scope_index)
    out_of_scope = labels == out_of_scope_index
    calibrated = int(in_scope.sum()) >= min_in_scope_turns
    threshold = (
        float(np.quantile(score[in_scope], false_rejection_rate))
        if calibrated
        else float(fallback_threshold)
    )

    def share_flagged(mask):
        return float((score[mask] < threshold).mean()) if mask.any() else None

    return OutOfScopeCalibration(
        threshold=threshold,
        false_rejection_rate_target=false_rejection_rate,
        in_scope_turns=int(in_scope.sum()),
        out_of_scope_turns=int(out_of_scope.sum()),
        false_rejection_rate=share_flagged(in_scope),
        out_of_scope_recall=share_flagged(out_of_scope),
        calibrated=calibrated,
    )
