"""Batch prediction inputs: the same conversion as ingestion, and version selection."""

import collections

import pytest
import tensorflow as tf

from models import features
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


def _save_echo_model(path, input_keys) -> None:
    """A SavedModel whose serving_default takes `input_keys` and returns their lengths."""

    class Echo(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=k) for k in input_keys])
        def serve(self, *inputs):
            return {
                f"{key}_length": tf.strings.length(v)
                for key, v in zip(input_keys, inputs, strict=True)
            }

    module = Echo()
    tf.saved_model.save(
        module, str(path), signatures={"serving_default": module.serve.get_concrete_function()}
    )


def _turn(**values):
    base = {key: b"" for key in features.SERVING_INPUT_KEYS}
    return batch_predict.TurnInputs(
        turn_id="t1",
        session_id="s1",
        source="turns.jsonl:1",
        values={**base, **values},
        modalities="image+text",
        intent=None,
    )


def test_each_model_gets_the_inputs_its_signature_names(tmp_path):
    """Models pushed before the image_text input existed are fed without it."""
    older = ("text", "image", "audio", "transcript")
    _save_echo_model(tmp_path / "older", older)
    predictor = batch_predict.Predictor(str(tmp_path / "older"))
    assert predictor.input_keys == list(older)
    turn = _turn(text=b"see attached", image=b"\x89PNG", image_text=b"Top-up failed")
    [prediction] = predictor.predict([turn])
    assert prediction["text_length"] == 12 and prediction["image_length"] == 4
    assert "image_text_length" not in prediction


def test_a_model_with_unknown_inputs_is_a_clear_error(tmp_path):
    _save_echo_model(tmp_path / "other", ("text", "video"))
    with pytest.raises(ValueError, match="video"):
        batch_predict.Predictor(str(tmp_path / "other"))
