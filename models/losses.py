"""Losses and metrics that skip missing labels (`features.MISSING_LABEL`).

Most turns carry only one of the two labels (banking queries have no sentiment label,
production turns none), so each head's loss is the mean over the examples labelled for
it, and 0 for a batch with none. The model's total loss is the sum of the two heads'
(Keras adds the per-output losses of `losses_by_output()`), plus, when training with the
auxiliary text intent head, its loss times `TrainingConfig.text_intent_loss_weight`.
With `TrainingConfig.label_smoothing` e above 0, each labelled example's target is
1 - e on its class plus e spread evenly over all classes (Szegedy et al., 2016).
"""

import keras

from models import features


def _labels_and_weights(y_true, sample_weight, dtype):
    """Flat int32 labels (missing ones replaced by class 0) and per-example weights."""
    labels = keras.ops.reshape(keras.ops.cast(y_true, "int32"), (-1,))
    labelled = keras.ops.not_equal(labels, features.MISSING_LABEL)
    weights = keras.ops.cast(labelled, dtype)
    if sample_weight is not None:
        weights = weights * keras.ops.reshape(keras.ops.cast(sample_weight, dtype), (-1,))
    # Class 0 stands in for the missing label so that the cross-entropy op gets a
    # valid index (TF's CPU kernel raises on -1); its weight is 0.
    return keras.ops.where(labelled, labels, 0), weights


def _flat_predictions(y_pred):
    """(..., classes) predictions -> (n, classes), in the order the labels are flattened:
    the training-only text intent output is (batch, sources, classes) over (batch, sources)
    labels."""
    y_pred = keras.ops.convert_to_tensor(y_pred)
    return keras.ops.reshape(y_pred, (-1, y_pred.shape[-1]))


def _cross_entropy(labels, y_pred, from_logits: bool, label_smoothing: float):
    """Per-example cross-entropy of (n,) class indices against (n, classes) predictions,
    against smoothed targets when `label_smoothing` > 0.

    The smoothed loss is written as (1 - e) * the one-hot loss + e * the mean over the
    classes of -log p, which equals the cross-entropy against the smoothed targets. It
    is not Keras' `categorical_crossentropy(..., label_smoothing=e)` on one-hot targets:
    with that graph a TFX Trainer run of the fusion model (4,000 turns, 2026-12-04)
    failed as its second epoch began, with AlreadyExistsError on a temporary variable
    that Grappler's arithmetic optimizer had put into the summed loss
    (`compile_loss/ArithmeticOptimizer/AddOpsRewrite_add_8/tmp_var`). The same run with
    this form trained on. Small models fitted on data of unknown length did not
    reproduce the failure with either form.
    """
    one_hot_loss = keras.losses.sparse_categorical_crossentropy(
        labels, y_pred, from_logits=from_logits
    )
    if not label_smoothing:
        return one_hot_loss
    if from_logits:
        log_probabilities = keras.ops.log_softmax(y_pred, axis=-1)
    else:
        log_probabilities = keras.ops.log(keras.ops.clip(y_pred, 1e-7, 1.0))
    uniform_loss = -keras.ops.mean(log_probabilities, axis=-1)
    return (1.0 - label_smoothing) * one_hot_loss + label_smoothing * uniform_loss


def masked_sparse_categorical_crossentropy(
    y_true, y_pred, from_logits=True, label_smoothing: float = 0.0
):
    """Per-example cross-entropy, 0 where the label is missing.

    Args:
        y_true: class indices (batch,) or (batch, 1), or (batch, k) for predictions of
            shape (batch, k, classes); `features.MISSING_LABEL` = no label.
        y_pred: (batch, classes) logits (or probabilities with `from_logits=False`).
        from_logits: whether `y_pred` holds logits.
        label_smoothing: share of each target spread evenly over all classes.

    Returns:
        (batch,) float losses, (batch * k,) for (batch, k) labels.
    """
    y_pred = _flat_predictions(y_pred)
    labels, weights = _labels_and_weights(y_true, None, y_pred.dtype)
    return _cross_entropy(labels, y_pred, from_logits, label_smoothing) * weights


@keras.saving.register_keras_serializable(package="mmcs")
class MaskedSparseCategoricalCrossentropy(keras.losses.Loss):
    """Sparse categorical cross-entropy averaged over the labelled examples only.

    Examples whose label is `features.MISSING_LABEL` contribute nothing, neither to
    the sum nor to the count; a batch without any label has loss 0 (and gradient 0).
    Sample weights, when given, weight the labelled examples (a weighted mean).

    Args:
        from_logits: whether predictions are logits (the fusion model's outputs are).
        label_smoothing: share of each target spread evenly over all classes (0: none).
        name: name of the loss.
    """

    def __init__(
        self,
        from_logits=True,
        label_smoothing: float = 0.0,
        name="masked_sparse_categorical_crossentropy",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        if not 0 <= label_smoothing < 1:
            raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing

    def call(self, y_true, y_pred):
        return masked_sparse_categorical_crossentropy(
            y_true, y_pred, self.from_logits, self.label_smoothing
        )

    def __call__(self, y_true, y_pred, sample_weight=None):
        # Overrides Loss.__call__: its reductions divide by the batch size, this one
        # by the (weighted) number of labelled examples.
        with keras.name_scope(self.name):
            y_pred = _flat_predictions(keras.ops.convert_to_tensor(y_pred, dtype=self.dtype))
            labels, weights = _labels_and_weights(y_true, sample_weight, y_pred.dtype)
            losses = _cross_entropy(labels, y_pred, self.from_logits, self.label_smoothing)
            return keras.ops.divide_no_nan(keras.ops.sum(losses * weights), keras.ops.sum(weights))

    def get_config(self):
        return {
            "name": self.name,
            "from_logits": self.from_logits,
            "label_smoothing": self.label_smoothing,
        }


@keras.saving.register_keras_serializable(package="mmcs")
class MaskedSparseCategoricalAccuracy(keras.metrics.Metric):
    """Accuracy over the labelled examples only (label != `features.MISSING_LABEL`).

    The result is 0 until a labelled example has been seen.

    Args:
        name: name of the metric.
        dtype: dtype of the accumulators.
    """

    def __init__(self, name="masked_accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.correct = self.add_variable(shape=(), initializer="zeros", name="correct")
        self.labelled = self.add_variable(shape=(), initializer="zeros", name="labelled")

    def update_state(self, y_true, y_pred, sample_weight=None):
        labels, weights = _labels_and_weights(y_true, sample_weight, self.dtype)
        predicted = keras.ops.cast(keras.ops.argmax(_flat_predictions(y_pred), axis=-1), "int32")
        hits = keras.ops.cast(keras.ops.equal(predicted, labels), self.dtype) * weights
        self.correct.assign_add(keras.ops.sum(hits))
        self.labelled.assign_add(keras.ops.sum(weights))

    def result(self):
        return keras.ops.divide_no_nan(self.correct, self.labelled)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


def _outputs(text_intent_head: bool) -> tuple[str, ...]:
    heads = (features.INTENT_KEY, features.SENTIMENT_KEY)
    return (*heads, features.TEXT_INTENT_AUXILIARY_KEY) if text_intent_head else heads


def losses_by_output(text_intent_head: bool = False, label_smoothing: float = 0.0) -> dict:
    """A masked cross-entropy per model output, for `model.compile(loss=...)`; with
    `text_intent_head`, one for the training-only text intent output too."""
    return {
        output: MaskedSparseCategoricalCrossentropy(
            label_smoothing=label_smoothing, name=f"{output}_loss"
        )
        for output in _outputs(text_intent_head)
    }


def loss_weights_by_output(text_intent_weight: float) -> dict:
    """`model.compile(loss_weights=...)`: the two heads at 1, the training-only text intent
    output (when the weight is above 0) at `text_intent_weight`."""
    weights = {features.INTENT_KEY: 1.0, features.SENTIMENT_KEY: 1.0}
    if text_intent_weight > 0:
        weights[features.TEXT_INTENT_AUXILIARY_KEY] = text_intent_weight
    return weights


def metrics_by_output(text_intent_head: bool = False) -> dict:
    """A masked accuracy per model output, for `model.compile(metrics=...)`.

    Keras prefixes the output name: the logs read `intent_accuracy`, `sentiment_accuracy`
    (and `text_intent_accuracy`).
    """
    return {
        output: [MaskedSparseCategoricalAccuracy(name="accuracy")]
        for output in _outputs(text_intent_head)
    }
