"""Finds what the latest pipeline run produced, from its ML Metadata store."""

import os

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2
from tfx.orchestration import metadata


def latest_artifact_uris(metadata_path: str, pipeline_name: str, node_id: str) -> dict[str, str]:
    """URI of the newest live artifact of each type a pipeline node has output.

    Returns an empty dict when the store or the node does not exist yet.
    """
    if not os.path.exists(metadata_path):
        return {}
    store = metadata_store.MetadataStore(metadata.sqlite_metadata_connection_config(metadata_path))
    context = store.get_context_by_type_and_name("node", f"{pipeline_name}.{node_id}")
    if context is None:
        return {}
    executions = [e.id for e in store.get_executions_by_context(context.id)]
    output_ids = {
        event.artifact_id
        for event in store.get_events_by_execution_ids(executions)
        if event.type == metadata_store_pb2.Event.OUTPUT
    }
    types = {t.id: t.name for t in store.get_artifact_types()}
    newest: dict[str, metadata_store_pb2.Artifact] = {}
    for artifact in store.get_artifacts_by_id(sorted(output_ids)):
        if artifact.state != metadata_store_pb2.Artifact.LIVE:
            continue
        type_name = types[artifact.type_id]
        if type_name not in newest or artifact.id > newest[type_name].id:
            newest[type_name] = artifact
    return {name: artifact.uri for name, artifact in newest.items()}
