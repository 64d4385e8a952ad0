"""Text recognition (OCR) of pictures: the packaged PP-OCRv4 networks reading a rendered
screen, the cleaning of what they read, the cache, and its place in record conversion."""

import io
import json

import pytest
import tensorflow as tf
from PIL import Image, ImageDraw

from components.log_example_gen.record_conversion import IngestLimits, convert_record
from corpus.image_style import font
from models import features, image_text_recognition
from models.image_text_recognition import clean_line, split_run_together
from tests.sample_run import SAMPLE

SCREEN_LINES = ("Top-up failed", "14:32", "Your card issuer declined the payment", "-120.00")


def _words(text: str) -> list[str]:
    return "".join(c if c.isalnum() else " " for c in text.lower()).split()


@pytest.fixture(scope="module")
def reader(cache_dir):
    return image_text_recognition.ImageTextReader()


@pytest.fixture(scope="module")
def vocabulary():
    return image_text_recognition._vocabulary_words()


@pytest.fixture(scope="module")
def screen_png():
    """A phone-screen-like picture: a title, a time, a message and an amount."""
    image = Image.new("RGB", (480, 360), "white")
    draw = ImageDraw.Draw(image)
    for row, line in enumerate(SCREEN_LINES):
        draw.text((24, 30 + 80 * row), line, fill=(20, 20, 20), font=font("sans", 26))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def test_reads_the_words_of_a_rendered_screen_and_drops_numbers(reader, screen_png):
    read = _words(reader.read(screen_png))
    expected = _words("Top-up failed Your card issuer declined the payment")
    assert sum(word in read for word in expected) >= 0.8 * len(expected), read
    # The time and the amount are not words: they are left out.
    assert "14" not in read and "120" not in read


def test_a_blank_picture_has_no_text(reader):
    out = io.BytesIO()
    Image.new("RGB", (200, 120), "white").save(out, format="PNG")
    assert reader.read(out.getvalue()) == ""


@pytest.mark.parametrize("size", [(16, 2048), (2048, 16)])
def test_a_picture_too_thin_for_the_text_detector_has_no_text(reader, size):
    # Ingestion accepts it (8 px a side, under 200:1); RapidOCR's resize fails on it.
    out = io.BytesIO()
    Image.new("RGB", size, "white").save(out, format="PNG")
    assert reader.read(out.getvalue()) == ""


def test_texts_are_deterministic_and_cached(reader, screen_png, monkeypatch, cache_dir):
    first = reader.read(screen_png)
    assert list((cache_dir / "image_texts").rglob("*.txt"))

    def no_engine(*args, **kwargs):
        raise AssertionError("the cached text should have been used")

    monkeypatch.setattr(type(reader), "engine", property(no_engine))
    assert reader.read(screen_png) == first
    monkeypatch.undo()
    fresh = image_text_recognition.ImageTextReader(use_cache=False)
    assert fresh.read(screen_png) == first


def test_bytes_that_are_no_picture_are_a_value_error(reader):
    with pytest.raises(ValueError, match="not a picture"):
        reader.read(b"\x89PNG but not really")


def test_run_together_words_are_split_into_common_words(vocabulary):
    assert split_run_together("Cardpayment", vocabulary) == "Card payment"
    assert split_run_together("Youspent", vocabulary) == "You spent"
    assert split_run_together("Yourwithdrawalof", vocabulary) == "Your withdrawal of"
    # Words, short runs and runs that only split into fragments stay as they are.
    assert split_run_together("declined", vocabulary) == "declined"
    assert split_run_together("topup", vocabulary) == "topup"
    assert split_run_together("Beneficiary", vocabulary) == "Beneficiary"
    assert split_run_together("Scheduind", vocabulary) == "Scheduind"


def test_cleaning_keeps_words_and_drops_numbers(vocabulary):
    assert clean_line("19:13", vocabulary) == ""
    assert clean_line("-8.80", vocabulary) == ""
    assert clean_line("TID:24209984", vocabulary) == ""
    assert clean_line("Youspent172.22atAMZN", vocabulary) == "You spent 172.22 at AMZN"
    assert clean_line("  Cash   withdrawal declined ", vocabulary) == "Cash withdrawal declined"
    assert clean_line("余额不足", vocabulary) == "余额不足"  # CJK letters count as letters


def _sample_picture_record() -> tuple[bytes, dict]:
    for line in (SAMPLE / "turns-00000.jsonl").read_bytes().splitlines():
        record = json.loads(line)
        if record["image"] and record["intent"] not in (None, features.OUT_OF_SCOPE_INTENT):
            return line, record
    raise AssertionError("the sample has no evidence picture")


def test_record_conversion_writes_the_text_of_pictures_only(reader):
    raw, record = _sample_picture_record()
    source = f"{SAMPLE / 'turns-00000.jsonl'}:1"
    example = tf.train.Example.FromString(
        convert_record(
            source, str(SAMPLE), raw, IngestLimits(), image_reader=reader
        ).serialized_example
    )
    feature = example.features.feature
    image_text = feature[features.IMAGE_TEXT_KEY].bytes_list.value
    assert [t.decode() for t in image_text] == [
        reader.read(feature[features.IMAGE_KEY].bytes_list.value[0])
    ]
    assert len(image_text[0].split()) >= 2
    without = tf.train.Example.FromString(
        convert_record(source, str(SAMPLE), raw, IngestLimits()).serialized_example
    )
    assert features.IMAGE_TEXT_KEY not in without.features.feature

    no_picture = json.dumps({**record, "turn_id": "t", "image": None, "audio": None}).encode()
    if not record.get("text"):
        no_picture = json.dumps({**json.loads(no_picture), "text": "hello"}).encode()
    converted = convert_record(source, str(SAMPLE), no_picture, IngestLimits(), None, reader)
    assert (
        features.IMAGE_TEXT_KEY
        not in tf.train.Example.FromString(converted.serialized_example).features.feature
    )
