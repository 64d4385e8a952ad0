"""The Beam ingestion end to end on a mixed folder: nothing lost, reasons kept."""

import collections
import gzip
import json

import pytest
import tensorflow as tf

from components.log_example_gen import beam_ingest
from models import features
from tests import log_folders


def _read_examples(path):
    examples = []
    for shard in sorted(path.glob("data_tfrecord-*.gz")):
        for record in tf.data.TFRecordDataset(str(shard), compression_type="GZIP"):
            examples.append(tf.train.Example.FromString(record.numpy()))
    return examples


@pytest.fixture(scope="module")
def ingested(tmp_path_factory):
    logs = tmp_path_factory.mktemp("logs")
    records = log_folders.write_mixed_folder(logs)
    out = tmp_path_factory.mktemp("out")
    summary = beam_ingest.ingest_folder(str(logs), str(out))
    return records, summary, out


def test_counts_add_up_per_reason(ingested):
    records, summary, _ = ingested
    expected = collections.Counter(reason for _, reason in records if reason)
    assert summary["records_in"] == len(records)
    assert summary["quarantined_per_reason"] == dict(expected)
    assert summary["examples_out"] == sum(1 for _, reason in records if reason is None)
    assert summary["blank_lines_skipped"] == 2
    assert summary["files"] == 2


def test_quarantine_keeps_original_record_and_reason(ingested):
    records, _, out = ingested
    lines = [json.loads(line) for line in (out / "quarantine.jsonl").read_text().splitlines()]
    assert len(lines) == sum(1 for _, reason in records if reason)
    by_reason = {line["reason"]: line for line in lines}
    assert by_reason["non_utf8"]["record_base64"]
    duplicate = by_reason["duplicate_turn_id"]
    assert json.loads(duplicate["record"])["text"] == "my card was declined again"
    assert duplicate["turn_id"] == "g1" and "a.jsonl:1" in duplicate["detail"]
    # Line numbers count blank lines, as an editor shows them.
    assert by_reason["unknown_intent"]["source"].endswith("b.jsonl:3")


def test_sessions_never_straddle_splits(ingested):
    records, summary, out = ingested
    sessions = {}
    total = 0
    for split in ("train", "eval"):
        examples = _read_examples(out / f"Split-{split}")
        assert len(examples) == summary["examples_per_split"][split]
        total += len(examples)
        for example in examples:
            session = example.features.feature[features.SESSION_ID_KEY].bytes_list.value[0]
            assert sessions.setdefault(session, split) == split
    assert total == summary["examples_out"]


def test_garbage_folder_raises_clear_error(tmp_path):
    log_folders.write_garbage_folder(tmp_path / "logs")
    with pytest.raises(beam_ingest.IngestError, match="none of the 4 records"):
        beam_ingest.ingest_folder(str(tmp_path / "logs"), str(tmp_path / "out"))


def test_empty_folder_raises_clear_error(tmp_path):
    with pytest.raises(beam_ingest.IngestError, match="no log files"):
        beam_ingest.ingest_folder(str(tmp_path), str(tmp_path / "out"))


def test_split_assignment_is_stable_and_proportional():
    splits = beam_ingest.DEFAULT_SPLITS
    assignment = [beam_ingest.split_of_session(f"s{i}", splits) for i in range(3000)]
    assert assignment == [beam_ingest.split_of_session(f"s{i}", splits) for i in range(3000)]
    assert assignment.count(0) / 3000 == pytest.approx(2 / 3, abs=0.03)


def test_gzip_shards_are_valid(ingested):
    _, _, out = ingested
    for shard in (out / "Split-train").glob("*.gz"):
        with gzip.open(shard) as handle:
            handle.read()
