"""ExampleValidator's executor for Kubeflow runs: takes the custom validations as JSON.

TFX 1.16 hands ExampleValidator's `custom_validation_config` to the executor as a proto
placeholder (`ph.make_proto`), which its KFP v2 compiler cannot encode ("Invalid
placeholder for exec prop custom_validation_config"). The Kubeflow runner passes the
proto as JSON text instead, and this executor parses it back before TFX's validates.
"""

from typing import Any

from tensorflow_data_validation.anomalies.proto import custom_validation_config_pb2
from tfx.components.example_validator import executor as example_validator_executor
from tfx.types import standard_component_specs
from tfx.utils import proto_utils

CUSTOM_VALIDATION_CONFIG_KEY = standard_component_specs.CUSTOM_VALIDATION_CONFIG_KEY


def parse_custom_validations(value: Any) -> Any:
    """The CustomValidationConfig of JSON text; any other value unchanged."""
    if isinstance(value, str) and value:
        return proto_utils.json_to_proto(
            value, custom_validation_config_pb2.CustomValidationConfig()
        )
    return value


class Executor(example_validator_executor.Executor):
    """TFX's ExampleValidator executor, with custom validations given as JSON text."""

    def Do(self, input_dict, output_dict, exec_properties) -> None:  # noqa: N802 (TFX API)
        exec_properties = dict(exec_properties)
        exec_properties[CUSTOM_VALIDATION_CONFIG_KEY] = parse_custom_validations(
            exec_properties.get(CUSTOM_VALIDATION_CONFIG_KEY)
        )
        super().Do(input_dict, output_dict, exec_properties)
