"""Batch prediction inputs: the same conversion as ingestion, and version selection."""

import collections

import pytest

from serving import batch_predict
from tests import log_folders


def test_turn_inputs_convert_like_ingestion(tmp_path):
    records = log_folders.write_mixed_folder(tmp_path)
    turns, rejected = batch_predict.turn_inputs(str(tmp_path))
    expected = collections.Counter(r for _, r in records if r and r != "duplicate_turn_id")
    assert collections.Counter(r.reason for r in rejected) == expected
    # Every turn is predicted, a repeated turn_id included (prediction drops nothing).
    assert len(turns) == sum(1 for _, r in records if r in (None, "duplicate_turn_id"))
    by_id = {}
    for turn in turns:
        by_id.setdefault(turn.turn_id, turn)
    assert by_id["g5"].modalities == "audio"
    assert by_id["g5"].values["audio"][:4] == b"RIFF"  # resampled to WAV, as at training
    assert by_id["g7"].modalities == "image+audio+text"
    assert by_id["g1"].intent == "declined_card_payment"


def test_latest_version_is_the_highest_number(tmp_path):
    for version in ("9", "10", "2"):
        (tmp_path / version).mkdir()
        (tmp_path / version / "saved_model.pb").write_bytes(b"")
    (tmp_path / "notes").mkdir()
    assert batch_predict.latest_version_dir(str(tmp_path)) == str(tmp_path / "10")
    assert batch_predict.latest_version_dir(str(tmp_path / "2")) == str(tmp_path / "2")


def test_folder_without_model_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no SavedModel"):
        batch_predict.latest_version_dir(str(tmp_path))
