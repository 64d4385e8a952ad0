"""The out-of-scope threshold chosen on eval predictions."""

import numpy as np
import pytest

from models import out_of_scope_calibration as calibration

OOS = 3  # index of out_of_scope in these 4-class examples


def _probabilities(in_scope_top: np.ndarray) -> np.ndarray:
    """Rows whose best in-scope probability is in_scope_top; the rest goes to OOS."""
    rows = np.zeros((len(in_scope_top), 4))
    rows[:, 0] = in_scope_top
    rows[:, OOS] = 1.0 - in_scope_top
    return rows


def test_threshold_rejects_the_target_share_of_in_scope_turns():
    rng = np.random.default_rng(0)
    in_scope = rng.uniform(0.3, 1.0, size=1000)
    out_of_scope = rng.uniform(0.0, 0.4, size=200)
    probabilities = _probabilities(np.concatenate([in_scope, out_of_scope]))
    labels = np.array([0] * 1000 + [OOS] * 200)

    result = calibration.calibrate(probabilities, labels, OOS, 0.05, fallback_threshold=0.3)

    assert result.calibrated
    assert result.in_scope_turns == 1000 and result.out_of_scope_turns == 200
    assert result.false_rejection_rate == pytest.approx(0.05, abs=0.002)
    assert 0.3 < result.threshold < 0.4
    # Every OOS turn below the threshold is caught: most of the U(0, 0.4) ones.
    assert result.out_of_scope_recall > 0.75


def test_unlabelled_turns_are_ignored_and_too_few_labels_keep_the_fallback():
    probabilities = _probabilities(np.array([0.9, 0.8, 0.1, 0.7]))
    labels = np.array([0, -1, OOS, 1])

    result = calibration.calibrate(probabilities, labels, OOS, 0.05, fallback_threshold=0.3)

    assert not result.calibrated
    assert result.threshold == 0.3
    assert result.in_scope_turns == 2
    assert result.out_of_scope_recall == 1.0  # 0.1 < 0.3
    assert result.false_rejection_rate == 0.0


def test_the_out_of_scope_class_does_not_count_as_in_scope():
    probabilities = np.array([[0.1, 0.1, 0.1, 0.7]])
    assert calibration.max_in_scope_probability(probabilities, OOS).tolist() == [pytest.approx(0.1)]


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="false_rejection_rate"):
        calibration.calibrate(np.ones((2, 4)) / 4, np.array([0, 1]), OOS, 1.5, 0.3)
    with pytest.raises(ValueError, match="probability rows"):
        calibration.calibrate(np.ones((3, 4)) / 4, np.array([0, 1]), OOS, 0.05, 0.3)


def test_serving_answer_follows_the_threshold():
    import tensorflow as tf

    from models import signatures

    probabilities = tf.constant(
        [
            [0.70, 0.10, 0.10, 0.10],  # confident in-scope
            [0.20, 0.25, 0.05, 0.50],  # OOS class most likely, best in-scope 0.25
            [0.05, 0.05, 0.60, 0.30],  # best in-scope is class 2
            [0.10, 0.10, 0.10, 0.70],
        ]
    )
    # Out-of-scope index 1: in-scope classes are 0, 2 and 3.
    intent, confidence, out_of_scope = signatures.intent_answer(probabilities, 1, 0.3)
    assert intent.numpy().tolist() == [0, 3, 2, 3]
    assert confidence.numpy() == pytest.approx([0.7, 0.5, 0.6, 0.7])
    assert out_of_scope.numpy().tolist() == [False, False, False, False]

    intent, confidence, out_of_scope = signatures.intent_answer(probabilities, 3, 0.3)
    assert intent.numpy().tolist() == [0, 3, 2, 3]
    assert confidence.numpy() == pytest.approx([0.7, 0.25, 0.6, 0.1])
    assert out_of_scope.numpy().tolist() == [False, True, False, True]
