"""The window of recent spans that Transform and the Trainer read.

TFX's SpanRangeStrategy (rolling range) keeps every artifact whose span is in the range.
Two things it does not do are needed here:
  - one artifact per span: a log folder that changed is ingested again under the same
    span (a new fingerprint), and only the newest ingestion of a span may be trained on;
  - validated spans only: a span whose data failed validation stopped its own run at the
    ValidationGate, but its Examples stay in ML Metadata; it must not slip into the
    training window of a later run.
"""

from ml_metadata.proto import metadata_store_pb2
from tfx import types
from tfx.components.example_gen import utils as example_gen_utils
from tfx.dsl.input_resolution.strategies import span_range_strategy
from tfx.proto import range_config_pb2

_SUCCEEDED = (metadata_store_pb2.Execution.COMPLETE, metadata_store_pb2.Execution.CACHED)
# Examples -> StatisticsGen -> ExampleStatistics -> ExampleValidator -> ExampleAnomalies
# -> ValidationGate: the gate is three executions downstream of the Examples.
_GATE_DEPTH = 3


def rolling_window(num_spans: int) -> range_config_pb2.RangeConfig:
    """The newest num_spans spans."""
    if num_spans < 1:
        raise ValueError(f"the span window must hold at least 1 span, not {num_spans}")
    return range_config_pb2.RangeConfig(
        rolling_range=range_config_pb2.RollingRange(num_spans=num_spans)
    )


def span_of(artifact: types.Artifact) -> int:
    return artifact.get_int_custom_property(example_gen_utils.SPAN_PROPERTY_NAME)


def _passed_gate(
    store, artifact_id: int, gate_type_name: str, execution_types: dict[int, str]
) -> bool:
    """Whether an execution of gate_type_name downstream of the artifact succeeded."""
    frontier = {artifact_id}
    for _ in range(_GATE_DEPTH):
        consumers = {
            event.execution_id
            for event in store.get_events_by_artifact_ids(sorted(frontier))
            if event.type == metadata_store_pb2.Event.INPUT
        }
        if not consumers:
            return False
        executions = store.get_executions_by_id(sorted(consumers))
        if any(
            execution_types.get(execution.type_id) == gate_type_name
            and execution.last_known_state in _SUCCEEDED
            for execution in executions
        ):
            return True
        succeeded = [e.id for e in executions if e.last_known_state in _SUCCEEDED]
        frontier = {
            event.artifact_id
            for event in store.get_events_by_execution_ids(succeeded)
            if event.type == metadata_store_pb2.Event.OUTPUT
        }
        if not frontier:
            return False
    return False


class ValidatedSpanWindowStrategy(span_range_strategy.SpanRangeStrategy):
    """SpanRangeStrategy's rolling range, one artifact per span (the newest ingestion),
    spans that passed the validation gate only.

    Use as a tfx.dsl.Resolver strategy over the ExampleGen's Examples:
      config={"range_config": rolling_window(n), "gate_type_name": <gate class path>}
    """

    def __init__(self, range_config: range_config_pb2.RangeConfig, gate_type_name: str = ""):
        super().__init__(range_config)
        self._gate_type_name = gate_type_name

    def resolve_artifacts(self, store, input_dict):
        if self._gate_type_name:
            execution_types = {t.id: t.name for t in store.get_execution_types()}
            input_dict = {
                key: [
                    artifact
                    for artifact in artifacts
                    if _passed_gate(store, artifact.id, self._gate_type_name, execution_types)
                ]
                for key, artifacts in input_dict.items()
            }
        newest_per_span = {}
        for key, artifacts in input_dict.items():
            newest: dict[int, types.Artifact] = {}
            for artifact in artifacts:
                span = span_of(artifact)
                if span not in newest or artifact.id > newest[span].id:
                    newest[span] = artifact
            newest_per_span[key] = list(newest.values())
        if not all(newest_per_span.values()):
            return None
        return super().resolve_artifacts(store, newest_per_span)
