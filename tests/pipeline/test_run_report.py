"""The run report's account of a refused model: each failed TFMA threshold, with its value
and its bar."""

from google.protobuf import text_format
from tensorflow_model_analysis.proto import validation_result_pb2

from pipeline import run_report

REFUSED = """
validation_ok: false
metric_validations_per_slice {
  slice_key {}
  failures {
    metric_key { name: "intent_accuracy" output_name: "intent_probabilities" }
    metric_threshold { value_threshold { lower_bound { value: 0.5 } } }
    metric_value { double_value { value: 0.42 } }
  }
  failures {
    metric_key { name: "intent_accuracy" is_diff: true }
    metric_threshold {
      change_threshold { absolute { value: -0.02 } direction: HIGHER_IS_BETTER }
    }
    metric_value { double_value { value: -0.04 } }
  }
}
metric_validations_per_slice {
  slice_key { single_slice_keys { column: "modalities" bytes_value: "audio" } }
  failures {
    metric_key { name: "sentiment_accuracy" }
    metric_threshold { value_threshold { lower_bound { value: 0.4 } } }
    metric_value { double_value { value: 0.25 } }
  }
}
"""


def test_each_failed_threshold_is_named_with_its_value_and_bar():
    validation = text_format.Parse(REFUSED, validation_result_pb2.ValidationResult())
    assert run_report.refusal_reasons(validation) == [
        "intent_accuracy: 0.420, below the bar of 0.500",
        "intent_accuracy: -0.040 against the blessed baseline (allowed drop 0.020)",
        "sentiment_accuracy on modalities=audio: 0.250, below the bar of 0.400",
    ]


def test_a_failed_validation_without_failures_still_says_so():
    validation = validation_result_pb2.ValidationResult(validation_ok=False)
    assert run_report.refusal_reasons(validation) == [
        "TFMA's validation failed without a failed threshold (see its output)"
    ]
