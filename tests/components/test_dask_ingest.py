"""The ingestion on Beam's Dask runner, on a local Dask cluster of two worker processes,
writes what the DirectRunner writes."""

import json

import distributed
import pytest
import tensorflow as tf

from components.log_example_gen import beam_ingest
from models import features
from pipeline import config
from tests import log_folders

pytestmark = pytest.mark.slow


def _examples(out, split: str) -> dict[bytes, tf.train.Example]:
    """{turn_id: example}; compared as protos (map fields serialize in any order)."""
    examples = {}
    for shard in sorted((out / f"Split-{split}").glob("data_tfrecord-*.gz")):
        for record in tf.data.TFRecordDataset(str(shard), compression_type="GZIP"):
            example = tf.train.Example.FromString(record.numpy())
            turn_id = example.features.feature[features.TURN_ID_KEY].bytes_list.value[0]
            examples[turn_id] = example
    return examples


def _quarantine(out) -> list[tuple]:
    """(source, reason, turn_id, record) per line; details may name object addresses."""
    lines = (out / beam_ingest.QUARANTINE_FILE).read_text().splitlines()
    return [
        (q["source"], q["reason"], q.get("turn_id"), q.get("record"), q.get("record_base64"))
        for q in map(json.loads, lines)
    ]


@pytest.fixture(scope="module")
def dask_cluster():
    cluster = distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
    )
    yield cluster
    cluster.close()


def test_dask_runner_writes_what_the_direct_runner_writes(tmp_path, dask_cluster):
    logs = tmp_path / "logs"
    log_folders.write_mixed_folder(logs)
    direct_out, dask_out = tmp_path / "direct", tmp_path / "dask"
    direct = beam_ingest.ingest_folder(
        str(logs),
        str(direct_out),
        beam_pipeline_args=tuple(
            config.BeamConfig(workers=1, running_mode="in_memory").pipeline_args()
        ),
    )
    dask_args = config.BeamConfig(
        runner="dask", extra_args=(f"--dask_client_address={dask_cluster.scheduler_address}",)
    ).pipeline_args()
    on_dask = beam_ingest.ingest_folder(
        str(logs), str(dask_out), beam_pipeline_args=tuple(dask_args)
    )

    assert on_dask == direct
    assert direct["quarantined"] > 0 and direct["examples_out"] > 0
    for split in ("train", "eval"):
        assert len(_examples(dask_out, split)) == direct["examples_per_split"][split]
        assert _examples(dask_out, split) == _examples(direct_out, split)
    assert _quarantine(dask_out) == _quarantine(direct_out)
    # The cluster did the work: its workers ran the conversion tasks.
    assert dask_cluster.scheduler_address.startswith("tcp://")
