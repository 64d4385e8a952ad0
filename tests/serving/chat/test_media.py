"""Customer uploads to model inputs: base64 forms and the ingestion's converters."""

import base64
import io
import shutil
import subprocess

import pytest
import soundfile

from serving.chat import media
from tests.serving.chat import chat_support


@pytest.mark.parametrize(
    "value",
    [
        {"b64": base64.b64encode(b"abc").decode()},
        base64.b64encode(b"abc").decode(),
        "data:image/png;base64," + base64.b64encode(b"abc").decode(),
        "YW\nJj",  # line-wrapped base64
    ],
)
def test_base64_fields_accept_the_usual_forms(value):
    assert media.decode_base64(value, "image") == b"abc"


@pytest.mark.parametrize("value", [None, "", {"b64": ""}])
def test_empty_media_fields_mean_absent(value):
    assert media.decode_base64(value, "audio") is None


@pytest.mark.parametrize(
    ("value", "message"),
    [(5, "not int"), ([1], "not list"), ({"b64": 5}, "not int"), ("abc$", "not valid base64")],
)
def test_bad_base64_fields_name_the_field(value, message):
    with pytest.raises(media.MediaError, match="'image'") as caught:
        media.decode_base64(value, "image")
    assert message in str(caught.value) and caught.value.status == 400


@pytest.mark.parametrize(
    ("image_format", "extension", "magic"),
    [("PNG", "png", b"\x89PNG"), ("JPEG", "jpg", b"\xff\xd8\xff"), ("WEBP", "png", b"\x89PNG")],
)
def test_images_become_png_or_jpeg(image_format, extension, magic):
    attachment = media.prepare_image(chat_support.png_bytes(image_format=image_format))
    assert attachment.extension == extension and attachment.data.startswith(magic)


def test_undecodable_images_are_rejected_with_ingestions_reason():
    with pytest.raises(media.MediaError, match="undecodable_image") as caught:
        media.prepare_image(b"not a picture")
    assert caught.value.status == 400


@pytest.mark.parametrize("audio_format", ["WAV", "FLAC", "OGG"])
def test_audio_becomes_16khz_mono_wav(audio_format):
    data = chat_support.audio_bytes(seconds=0.4, rate=22050, channels=2, audio_format=audio_format)
    attachment = media.prepare_audio(data)
    info = soundfile.info(io.BytesIO(attachment.data))
    assert attachment.extension == "wav"
    assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
    assert info.duration == pytest.approx(0.4, abs=0.01)


def test_undecodable_audio_is_rejected():
    with pytest.raises(media.MediaError, match="undecodable_audio"):
        media.prepare_audio(b"RIFF\x00\x00\x00\x00WAVEjunk")


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
def test_browser_webm_recordings_are_converted_with_ffmpeg():
    webm = subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:duration=0.5",
            "-c:a",
            "libopus",
            "-f",
            "webm",
            "pipe:1",
        ],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    with pytest.raises(soundfile.LibsndfileError):
        soundfile.info(io.BytesIO(webm))  # why the ffmpeg path exists
    info = soundfile.info(io.BytesIO(media.prepare_audio(webm).data))
    assert (info.samplerate, info.channels) == (16000, 1)
    assert info.duration == pytest.approx(0.5, abs=0.05)
