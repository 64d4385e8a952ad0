"""Behaviour of one-record conversion: every malformed kind maps to its reason."""

import datetime
import io
import json

import numpy as np
import pytest
import soundfile
import tensorflow as tf
from PIL import Image

from components.log_example_gen import quarantine
from components.log_example_gen.record_conversion import IngestLimits, convert_record
from models import features, image_preprocessing
from tests import log_folders


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    path = tmp_path_factory.mktemp("logs")
    log_folders.write_mixed_folder(path)
    return path


def _convert(folder, record):
    raw = record if isinstance(record, bytes) else json.dumps(record).encode()
    return convert_record("test.jsonl:1", str(folder), raw, IngestLimits())


@pytest.mark.parametrize(
    "record,reason",
    [(r, why) for r, why in log_folders.mixed_records() if why and why != "duplicate_turn_id"],
)
def test_malformed_record_is_rejected_with_its_reason(folder, record, reason):
    with pytest.raises(quarantine.RecordRejected) as rejected:
        _convert(folder, record)
    assert rejected.value.reason == reason
    assert rejected.value.detail


def test_text_turn_becomes_example_with_flags_and_labels(folder):
    turn = _convert(
        folder,
        log_folders.turn(
            "t1", "s1", text="  my  card\nwas declined ", intent="declined_card_payment"
        ),
    )
    example = tf.train.Example.FromString(turn.serialized_example).features.feature
    assert example[features.TEXT_KEY].bytes_list.value == [b"my card was declined"]
    assert example[features.HAS_TEXT_KEY].int64_list.value == [1]
    assert example[features.HAS_IMAGE_KEY].int64_list.value == [0]
    assert example[features.HAS_AUDIO_KEY].int64_list.value == [0]
    assert example[features.INTENT_KEY].bytes_list.value == [b"declined_card_payment"]
    assert features.SENTIMENT_KEY not in example
    assert example[features.TIMESTAMP_KEY].int64_list.value == [
        int(datetime.datetime(2026, 11, 1, 10, 22, 31, tzinfo=datetime.timezone.utc).timestamp())
    ]
    assert example[features.LANGUAGE_KEY].bytes_list.value == [b"en"]


@pytest.mark.parametrize("name", ["voice.wav", "voice.flac", "voice.ogg", "voice.mp3"])
def test_audio_is_resampled_to_16k_mono_wav(folder, name):
    turn = _convert(folder, log_folders.turn("a", "s", audio=f"attachments/{name}"))
    example = tf.train.Example.FromString(turn.serialized_example).features.feature
    wav = example[features.AUDIO_KEY].bytes_list.value[0]
    samples, rate = soundfile.read(io.BytesIO(wav))
    assert rate == features.AUDIO_SAMPLE_RATE
    assert samples.ndim == 1
    assert samples.shape[0] == pytest.approx(8000, rel=0.1)  # 0.5 s at 16 kHz (MP3 pads)
    # The 440 Hz tone survives resampling.
    spectrum = np.abs(np.fft.rfft(samples))
    assert np.fft.rfftfreq(samples.shape[0], 1 / rate)[spectrum.argmax()] == pytest.approx(
        440, abs=5
    )
    duration = example[features.AUDIO_DURATION_KEY].float_list.value[0]
    assert duration == pytest.approx(samples.shape[0] / rate)


@pytest.mark.parametrize(
    "name,kept",
    [("screen.png", True), ("photo.jpg", True), ("screen.webp", False), ("rgba.png", False)],
)
def test_images_are_png_or_jpeg_for_the_graph(folder, name, kept):
    turn = _convert(folder, log_folders.turn("i", "s", image=f"attachments/{name}"))
    example = tf.train.Example.FromString(turn.serialized_example).features.feature
    data = example[features.IMAGE_KEY].bytes_list.value[0]
    assert (data == (folder / "attachments" / name).read_bytes()) is kept
    decoded = tf.io.decode_image(data, channels=3)
    assert decoded.shape == (48, 64, 3)
    assert Image.open(io.BytesIO(data)).format in {"PNG", "JPEG"}


def test_oversized_attachment_is_rejected(folder):
    limits = IngestLimits(max_attachment_bytes=100)
    raw = json.dumps(log_folders.turn("i", "s", image="attachments/photo.jpg")).encode()
    with pytest.raises(quarantine.RecordRejected) as rejected:
        convert_record("x.jsonl:3", str(folder), raw, limits)
    assert rejected.value.reason == quarantine.OVERSIZED_ATTACHMENT


def _png(size) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, "white").save(out, format="PNG")
    return out.getvalue()


def test_model_cannot_resize_a_picture_thinner_than_about_448_to_1():
    # Why ingestion bounds the aspect ratio: the graph fails, in Transform for the batch.
    with pytest.raises(tf.errors.InvalidArgumentError):
        image_preprocessing.decode_image(tf.constant(_png((2048, 3))))


@pytest.mark.parametrize(
    "size,accepted",
    [((2000, 10), True), ((10, 2000), True), ((2010, 10), False), ((8, 4000), False)],
)
def test_picture_thinner_than_the_model_can_resize_is_rejected(tmp_path, size, accepted):
    (tmp_path / "thin.png").write_bytes(_png(size))
    raw = json.dumps(log_folders.turn("i", "s", image="thin.png")).encode()
    if not accepted:
        with pytest.raises(quarantine.RecordRejected) as rejected:
            convert_record("x.jsonl:1", str(tmp_path), raw, IngestLimits())
        assert rejected.value.reason == quarantine.UNDECODABLE_IMAGE
        assert "200:1" in rejected.value.detail
        return
    turn = convert_record("x.jsonl:1", str(tmp_path), raw, IngestLimits())
    data = tf.train.Example.FromString(turn.serialized_example).features.feature[features.IMAGE_KEY]
    pixels = image_preprocessing.decode_image(tf.constant(data.bytes_list.value[0]))
    assert pixels.shape == (features.IMAGE_SIZE, features.IMAGE_SIZE, 3)
