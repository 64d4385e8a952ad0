"""Batch prediction inputs: the same conversion as ingestion, and version selection."""

import collections
import dataclasses
import json
import shutil

import pytest
import tensorflow as tf

import schemas
from models import features, signatures
from models.speech_recognition import Hypothesis
from serving import batch_predict, n_best
from tests import log_folders
from tests.sample_run import SAMPLE


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


def _save_transcript_model(path) -> None:
    """A SavedModel with serving_default's outputs, its intent a hash of the transcript."""
    intents, sentiments = len(schemas.intent_labels()), len(schemas.sentiment_labels())

    class ByTranscript(tf.Module):
        @tf.function(
            input_signature=[
                tf.TensorSpec([None], tf.string, name=k) for k in features.SERVING_INPUT_KEYS
            ]
        )
        def serve(self, text, image, audio, transcript, image_text):
            bucket = tf.strings.to_hash_bucket_fast(transcript, intents - 1)
            probabilities = 0.2 / intents + 0.8 * tf.one_hot(bucket, intents)
            return {
                signatures.INTENT_OUTPUT: tf.gather(schemas.intent_labels(), bucket),
                signatures.INTENT_PROBABILITIES_OUTPUT: probabilities,
                signatures.CONFIDENCE_OUTPUT: tf.reduce_max(probabilities, axis=-1),
                signatures.OUT_OF_SCOPE_OUTPUT: tf.zeros_like(bucket, tf.bool),
                signatures.SENTIMENT_OUTPUT: tf.fill(tf.shape(bucket), "neutral"),
                signatures.SENTIMENT_PROBABILITIES_OUTPUT: tf.fill(
                    [tf.shape(bucket)[0], sentiments], 1.0 / sentiments
                ),
            }

    module = ByTranscript()
    tf.saved_model.save(
        module, str(path), signatures={"serving_default": module.serve.get_concrete_function()}
    )


def test_a_turn_with_n_best_transcripts_is_answered_with_their_combination(tmp_path):
    _save_transcript_model(tmp_path / "model")
    predictor = batch_predict.Predictor(str(tmp_path / "model"))
    hypotheses = (
        Hypothesis("i want to transfer money", 0.5),
        Hypothesis("i want to transistor money", 0.3),
        Hypothesis("i want to transfer many", 0.2),
    )
    voice = dataclasses.replace(
        _turn(audio=b"RIFF", transcript=hypotheses[0].text.encode()),
        modalities="audio",
        hypotheses=hypotheses,
    )
    [combined] = predictor.predict([voice])
    alone = predictor.predict(
        [
            dataclasses.replace(
                voice, values={**voice.values, "transcript": h.text.encode()}, hypotheses=()
            )
            for h in hypotheses
        ]
    )
    assert [p["turn_id"] for p in alone] == ["t1"] * 3
    assert len({p["intent"] for p in alone}) > 1  # the transcripts are answered differently
    expected = n_best.combine(
        [{k: v for k, v in p.items() if k not in ("turn_id", "modalities")} for p in alone],
        [h.weight for h in hypotheses],
    )
    assert combined == {"turn_id": "t1", "modalities": "audio", **expected}
    # One hypothesis, or none: the turn as it is.
    [single] = predictor.predict([dataclasses.replace(voice, hypotheses=hypotheses[:1])])
    assert single == alone[0]


def test_n_best_transcripts_are_asked_for_turns_with_audio_only(tmp_path):
    record = log_folders.mixed_records()[0][0]  # g1, a text turn
    spoken = json.loads(
        next(
            line
            for line in (SAMPLE / "turns-00000.jsonl").read_bytes().splitlines()
            if json.loads(line)["turn_id"] == "train-s00005-2"
        )
    )
    (tmp_path / "attachments").mkdir()
    shutil.copy(SAMPLE / spoken["audio"], tmp_path / spoken["audio"])
    (tmp_path / "turns.jsonl").write_text(json.dumps(record) + "\n" + json.dumps(spoken) + "\n")
    plain, _ = batch_predict.turn_inputs(str(tmp_path), read_image_text=False)
    assert all(turn.hypotheses == () for turn in plain)
    turns, _ = batch_predict.turn_inputs(
        str(tmp_path), read_image_text=False, n_best_transcripts=True
    )
    text, voice = turns
    assert text.hypotheses == ()
    assert len(voice.hypotheses) >= 2
    assert voice.hypotheses[0].text == voice.values[features.TRANSCRIPT_KEY].decode()
