"""Builds small log folders (good and malformed records) for ingestion tests."""

import io
import json
from pathlib import Path

import numpy as np
import soundfile
from PIL import Image

from components.log_example_gen import quarantine
from models import features

TIMESTAMP = "2026-11-01T10:22:31Z"


def image_bytes(fmt: str, size=(64, 48), mode="RGB") -> bytes:
    """A small gradient picture encoded as fmt (PNG, JPEG, WEBP, ...)."""
    grid = np.linspace(0, 255, size[0] * size[1] * 3).reshape(size[1], size[0], 3)
    image = Image.fromarray(grid.astype(np.uint8), "RGB").convert(mode)
    out = io.BytesIO()
    image.save(out, format=fmt)
    return out.getvalue()


def audio_bytes(fmt: str, rate: int = 8000, channels: int = 1, seconds: float = 0.5) -> bytes:
    """A short tone encoded as fmt (WAV, FLAC, OGG, MP3)."""
    t = np.arange(int(rate * seconds)) / rate
    tone = 0.3 * np.sin(2 * np.pi * 440 * t)
    samples = np.stack([tone] * channels, axis=1)
    out = io.BytesIO()
    subtype = {"OGG": "VORBIS", "MP3": "MPEG_LAYER_III"}.get(fmt)
    soundfile.write(out, samples, rate, format=fmt, subtype=subtype)
    return out.getvalue()


def turn(turn_id: str, session_id: str, **fields) -> dict:
    """A valid raw turn with defaults for the required fields."""
    record = {
        features.TURN_ID_KEY: turn_id,
        features.SESSION_ID_KEY: session_id,
        features.TURN_INDEX_KEY: 0,
        features.TIMESTAMP_KEY: TIMESTAMP,
        features.CHANNEL_KEY: "chat",
    }
    record.update(fields)
    return record


def _write_attachments(folder: Path) -> None:
    attachments = folder / "attachments"
    attachments.mkdir(parents=True, exist_ok=True)
    (attachments / "screen.png").write_bytes(image_bytes("PNG"))
    (attachments / "photo.jpg").write_bytes(image_bytes("JPEG"))
    (attachments / "screen.webp").write_bytes(image_bytes("WEBP"))
    (attachments / "rgba.png").write_bytes(image_bytes("PNG", mode="RGBA"))
    (attachments / "voice.wav").write_bytes(audio_bytes("WAV", rate=44100, channels=2))
    (attachments / "voice.flac").write_bytes(audio_bytes("FLAC", rate=22050))
    (attachments / "voice.ogg").write_bytes(audio_bytes("OGG", rate=16000))
    (attachments / "voice.mp3").write_bytes(audio_bytes("MP3", rate=24000))
    (attachments / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    (attachments / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")


# (record or raw line, expected reason); None means the record must convert.
def mixed_records() -> list[tuple[object, str | None]]:
    """Good records (every attachment format) and one malformed record per reason."""
    img, aud = features.IMAGE_KEY, features.AUDIO_KEY
    return [
        (turn("g1", "s1", text="my card was declined", intent="declined_card_payment"), None),
        (
            turn("g2", "s1", turn_index=1, text="see screenshot", image="attachments/screen.png"),
            None,
        ),
        (turn("g3", "s2", image="attachments/photo.jpg", sentiment="negative"), None),
        (turn("g4", "s2", turn_index=1, text="this", image="attachments/screen.webp"), None),
        (turn("g5", "s3", channel="voice", audio="attachments/voice.wav"), None),
        (turn("g6", "s3", turn_index=1, channel="voice", audio="attachments/voice.flac"), None),
        (
            turn(
                "g7",
                "s4",
                channel="app",
                text="hi",
                audio="attachments/voice.ogg",
                image="attachments/rgba.png",
                intent="out_of_scope",
            ),
            None,
        ),
        (turn("g8", "s5", channel="voice", audio="attachments/voice.mp3", language="en-GB"), None),
        (b'{"turn_id": "b1", "session_id": ', quarantine.INVALID_JSON),
        (b"[1, 2, 3]", quarantine.NOT_AN_OBJECT),
        (b'{"turn_id": "b3", "text": "caf\xe9"}', quarantine.NON_UTF8),
        (
            {k: v for k, v in turn("b4", "s9", text="x").items() if k != "channel"},
            quarantine.MISSING_FIELD,
        ),
        (turn("b5", "s9", text="x", channel="fax"), quarantine.UNKNOWN_CHANNEL),
        (turn("b6", "s9", text="x", intent="buy_a_boat"), quarantine.UNKNOWN_INTENT),
        (turn("b7", "s9", text="x", sentiment="furious"), quarantine.UNKNOWN_SENTIMENT),
        (turn("b8", "s9", text="   "), quarantine.EMPTY_TURN),
        (turn("b9", "s9", text="x", timestamp="yesterday"), quarantine.INVALID_TIMESTAMP),
        (turn("b10", "s9", text="x", turn_index="two"), quarantine.INVALID_FIELD),
        (turn("b11", "s9", **{img: "attachments/nope.png"}), quarantine.MISSING_ATTACHMENT),
        (turn("b12", "s9", **{img: "../../etc/passwd"}), quarantine.UNSAFE_ATTACHMENT_PATH),
        (turn("b13", "s9", **{img: "attachments/broken.png"}), quarantine.UNDECODABLE_IMAGE),
        (turn("b14", "s9", **{aud: "attachments/broken.wav"}), quarantine.UNDECODABLE_AUDIO),
        (turn("b15", "s9", text="x" * 70_000), quarantine.OVERSIZED_RECORD),
        (turn("g1", "s1", text="my card was declined again"), quarantine.DUPLICATE_TURN_ID),
    ]


def _line(record) -> bytes:
    if isinstance(record, bytes):
        return record
    return json.dumps(record).encode("utf-8")


def write_mixed_folder(folder: Path) -> list[tuple[object, str | None]]:
    """Writes mixed_records() into two .jsonl files (with a blank line) under folder."""
    _write_attachments(folder)
    records = mixed_records()
    half = len(records) // 2
    for name, chunk in (("a.jsonl", records[:half]), ("b.jsonl", records[half:])):
        lines = [_line(record) for record, _ in chunk]
        (folder / name).write_bytes(b"\n".join(lines[:1] + [b""] + lines[1:]) + b"\n")
    return records


def write_garbage_folder(folder: Path) -> None:
    """A folder whose only log file holds nothing convertible."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "garbage.jsonl").write_bytes(b"not json\n{]\n\xff\xfe\n[]\n")
