"""ValidationGate: the pipeline goes on past data validation only on clean data."""

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec

from components.validation_gate import executor, spec


class ValidationGate(base_component.BaseComponent):
    """Fails its execution, and so the pipeline run, when the anomalies are not empty.

    TFX's ExampleValidator records anomalies but does not stop downstream components;
    components that must not run on bad data (Transform, Trainer) depend on this gate.
    """

    SPEC_CLASS = spec.ValidationGateSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, anomalies: types.BaseChannel):
        super().__init__(
            spec=spec.ValidationGateSpec(
                anomalies=anomalies,
                result=types.Channel(type=spec.DataValidationResult),
            )
        )
