"""What each pipeline run did, read from ML Metadata: the executions of every run, their
state (COMPLETE, CACHED, FAILED), what they read, and the Trainer's runs (TensorBoard)."""

import dataclasses
import datetime
import os

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2
from tfx.orchestration import metadata

_PIPELINE = "pipeline"
_PIPELINE_RUN = "pipeline_run"
_NODE = "node"


@dataclasses.dataclass(frozen=True)
class NodeExecution:
    """One execution of a pipeline node."""

    node_id: str
    execution_id: int
    state: str  # COMPLETE, CACHED, FAILED, RUNNING, ...
    created: datetime.datetime


@dataclasses.dataclass(frozen=True)
class PipelineRun:
    """One run of the pipeline (a LocalDagRunner.run call) and its executions."""

    run_id: str
    executions: tuple[NodeExecution, ...]

    def states(self) -> dict[str, str]:
        """{node id: state of its last execution in this run}."""
        return {e.node_id: e.state for e in sorted(self.executions, key=lambda e: e.execution_id)}


@dataclasses.dataclass(frozen=True)
class TrainerRun:
    """A Trainer execution's ModelRun artifact: where its TensorBoard logs are."""

    execution_id: int
    pipeline_run_id: str
    state: str
    created: datetime.datetime
    log_dir: str


def open_store(metadata_path: str) -> metadata_store.MetadataStore | None:
    """The SQLite MLMD store of a local pipeline root, or None when there is none yet."""
    if not os.path.exists(metadata_path):
        return None
    return metadata_store.MetadataStore(metadata.sqlite_metadata_connection_config(metadata_path))


def _time(milliseconds: int) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(milliseconds / 1000, tz=datetime.timezone.utc)


def _state_name(execution: metadata_store_pb2.Execution) -> str:
    return metadata_store_pb2.Execution.State.Name(execution.last_known_state)


def _run_and_node(store, execution_id: int, pipeline_name: str) -> tuple[str, str]:
    run_id, node_id = "", ""
    for context in store.get_contexts_by_execution(execution_id):
        type_name = store.get_context_types_by_id([context.type_id])[0].name
        if type_name == _PIPELINE_RUN:
            run_id = context.name
        elif type_name == _NODE and context.name.startswith(pipeline_name + "."):
            node_id = context.name[len(pipeline_name) + 1 :]
    return run_id, node_id


def pipeline_runs(metadata_path: str, pipeline_name: str) -> list[PipelineRun]:
    """Every run of the pipeline, oldest first."""
    store = open_store(metadata_path)
    if store is None:
        return []
    pipeline_context = store.get_context_by_type_and_name(_PIPELINE, pipeline_name)
    if pipeline_context is None:
        return []
    runs: dict[str, list[NodeExecution]] = {}
    first_seen: dict[str, int] = {}
    for execution in store.get_executions_by_context(pipeline_context.id):
        run_id, node_id = _run_and_node(store, execution.id, pipeline_name)
        runs.setdefault(run_id, []).append(
            NodeExecution(
                node_id,
                execution.id,
                _state_name(execution),
                _time(execution.create_time_since_epoch),
            )
        )
        first_seen[run_id] = min(first_seen.get(run_id, execution.id), execution.id)
    return [
        PipelineRun(run_id, tuple(runs[run_id]))
        for run_id in sorted(runs, key=lambda r: first_seen[r])
    ]


def input_artifacts(
    metadata_path: str, execution_id: int, type_name: str
) -> list[metadata_store_pb2.Artifact]:
    """The artifacts of a type an execution read."""
    store = open_store(metadata_path)
    ids = sorted(
        event.artifact_id
        for event in store.get_events_by_execution_ids([execution_id])
        if event.type == metadata_store_pb2.Event.INPUT
    )
    types = {t.id: t.name for t in store.get_artifact_types()}
    return [a for a in store.get_artifacts_by_id(ids) if types[a.type_id] == type_name]


def output_artifacts(
    metadata_path: str, pipeline_name: str, node_id: str, type_name: str
) -> list[metadata_store_pb2.Artifact]:
    """Every LIVE artifact of a type a node has ever output (one per published result)."""
    store = open_store(metadata_path)
    if store is None:
        return []
    context = store.get_context_by_type_and_name(_NODE, f"{pipeline_name}.{node_id}")
    if context is None:
        return []
    types = {t.id: t.name for t in store.get_artifact_types()}
    return [
        a
        for a in store.get_artifacts_by_context(context.id)
        if types[a.type_id] == type_name and a.state == metadata_store_pb2.Artifact.LIVE
    ]


def trainer_runs(
    metadata_path: str, pipeline_name: str, trainer_node_id: str = "Trainer"
) -> list[TrainerRun]:
    """The Trainer's ModelRun artifacts (its TensorBoard log dirs), newest first.

    A cached Trainer execution reuses an earlier run's artifact, so each log dir appears
    once, under the execution that wrote it.
    """
    store = open_store(metadata_path)
    if store is None:
        return []
    context = store.get_context_by_type_and_name(_NODE, f"{pipeline_name}.{trainer_node_id}")
    if context is None:
        return []
    types = {t.id: t.name for t in store.get_artifact_types()}
    executions = {e.id: e for e in store.get_executions_by_context(context.id)}
    writer_of: dict[int, int] = {}
    for event in store.get_events_by_execution_ids(sorted(executions)):
        if event.type == metadata_store_pb2.Event.OUTPUT:
            writer_of.setdefault(event.artifact_id, event.execution_id)
    runs = []
    for artifact in store.get_artifacts_by_id(sorted(writer_of)):
        if types[artifact.type_id] != "ModelRun":
            continue
        execution = executions[writer_of[artifact.id]]
        run_id, _ = _run_and_node(store, execution.id, pipeline_name)
        runs.append(
            TrainerRun(
                execution_id=execution.id,
                pipeline_run_id=run_id,
                state=_state_name(execution),
                created=_time(artifact.create_time_since_epoch),
                log_dir=artifact.uri,
            )
        )
    return sorted(runs, key=lambda r: r.execution_id, reverse=True)
