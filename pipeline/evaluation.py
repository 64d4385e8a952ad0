"""The TFMA evaluation of the fusion model: metrics per head, slices, blessing thresholds."""

import dataclasses

import tensorflow_model_analysis as tfma

import schemas
from models import features, signatures


@dataclasses.dataclass(frozen=True)
class BlessingThresholds:
    """What a candidate model must reach to be blessed and pushed.

    Attributes:
      min_intent_accuracy: intent accuracy on the eval split, overall.
      min_sentiment_accuracy: sentiment accuracy on the eval split, overall.
      max_intent_accuracy_drop: how much intent accuracy may fall below the latest blessed
        model's (absolute); the first model has no baseline and skips this check.
    """

    min_intent_accuracy: float = 0.5
    min_sentiment_accuracy: float = 0.4
    max_intent_accuracy_drop: float = 0.02


# Bars every trained model passes: for runs that measure models rather than gate them
# (the benchmarks push every model they train).
NO_GATE = BlessingThresholds(0.0, 0.0, 1.0)


def _accuracy(name: str, lower_bound: float, max_drop: float | None) -> tfma.MetricConfig:
    threshold = tfma.MetricThreshold(
        value_threshold=tfma.GenericValueThreshold(lower_bound={"value": lower_bound}),
        change_threshold=(
            tfma.GenericChangeThreshold(
                direction=tfma.MetricDirection.HIGHER_IS_BETTER,
                absolute={"value": -max_drop},
            )
            if max_drop is not None
            else None
        ),
    )
    # Thresholds gate on the overall slice only: small slices are reported, not gated.
    return tfma.MetricConfig(
        class_name="SparseCategoricalAccuracy",
        config=f'"name": "{name}"',
        per_slice_thresholds=[
            tfma.PerSliceMetricThreshold(slicing_specs=[tfma.SlicingSpec()], threshold=threshold)
        ],
    )


def _macro_average(classes: list[int]) -> tfma.AggregationOptions:
    """Unweighted mean over classes (every intent counts the same, however rare)."""
    return tfma.AggregationOptions(
        macro_average=True, class_weights={class_id: 1.0 for class_id in classes}
    )


def eval_config(thresholds: BlessingThresholds) -> tfma.EvalConfig:
    """Per-head metrics, slices by modality combination and channel, and thresholds."""
    intent_classes = list(range(len(schemas.intent_labels())))
    sentiment_classes = list(range(len(schemas.sentiment_labels())))
    return tfma.EvalConfig(
        model_specs=[
            tfma.ModelSpec(
                signature_name=signatures.SERVING_TF_EXAMPLE,
                preprocessing_function_names=[signatures.TRANSFORM_FEATURES],
                label_keys={
                    signatures.INTENT_PROBABILITIES_OUTPUT: features.INTENT_LABEL_KEY,
                    signatures.SENTIMENT_PROBABILITIES_OUTPUT: features.SENTIMENT_LABEL_KEY,
                },
                example_weight_keys={
                    signatures.INTENT_PROBABILITIES_OUTPUT: features.INTENT_WEIGHT_KEY,
                    signatures.SENTIMENT_PROBABILITIES_OUTPUT: features.SENTIMENT_WEIGHT_KEY,
                },
            )
        ],
        slicing_specs=[
            tfma.SlicingSpec(),
            tfma.SlicingSpec(feature_keys=[features.MODALITY_COMBINATION_KEY]),
            tfma.SlicingSpec(feature_keys=[features.CHANNEL_KEY]),
        ],
        metrics_specs=[
            tfma.MetricsSpec(
                output_names=[signatures.INTENT_PROBABILITIES_OUTPUT],
                metrics=[
                    _accuracy(
                        "intent_accuracy",
                        thresholds.min_intent_accuracy,
                        thresholds.max_intent_accuracy_drop,
                    ),
                    tfma.MetricConfig(class_name="ExampleCount"),
                    tfma.MetricConfig(class_name="MultiClassConfusionMatrixPlot"),
                ],
            ),
            # Per-class recall and precision, and their macro averages (macro F1).
            tfma.MetricsSpec(
                output_names=[signatures.INTENT_PROBABILITIES_OUTPUT],
                binarize=tfma.BinarizationOptions(class_ids={"values": intent_classes}),
                aggregate=_macro_average(intent_classes),
                metrics=[
                    tfma.MetricConfig(class_name="Recall"),
                    tfma.MetricConfig(class_name="Precision"),
                    tfma.MetricConfig(class_name="F1Score"),
                ],
            ),
            # Calibration: mean predicted probability against the observed rate per class,
            # averaged over classes.
            tfma.MetricsSpec(
                output_names=[signatures.INTENT_PROBABILITIES_OUTPUT],
                binarize=tfma.BinarizationOptions(top_k_list={"values": [1]}),
                metrics=[
                    tfma.MetricConfig(class_name="Calibration"),
                    tfma.MetricConfig(class_name="CalibrationPlot"),
                ],
            ),
            tfma.MetricsSpec(
                output_names=[signatures.SENTIMENT_PROBABILITIES_OUTPUT],
                metrics=[
                    _accuracy("sentiment_accuracy", thresholds.min_sentiment_accuracy, None),
                    tfma.MetricConfig(class_name="ExampleCount"),
                ],
            ),
            tfma.MetricsSpec(
                output_names=[signatures.SENTIMENT_PROBABILITIES_OUTPUT],
                binarize=tfma.BinarizationOptions(class_ids={"values": sentiment_classes}),
                aggregate=_macro_average(sentiment_classes),
                metrics=[tfma.MetricConfig(class_name="Recall")],
            ),
        ],
    )
