"""Customer uploads to what the model reads: base64 decoding and the ingestion's converters.

Images of any format ingestion reads become PNG or JPEG; audio of any format soundfile
reads (WAV, FLAC, OGG/Vorbis, MP3; any rate and channel count) becomes 16 kHz mono PCM16
WAV. Browser recordings in WebM/Opus, which soundfile does not read, are converted with
ffmpeg when it is installed (the web page itself records WAV, so it never needs it).
"""

import base64
import binascii
import dataclasses
import shutil
import subprocess

from components.log_example_gen import quarantine
from components.log_example_gen.audio_normalization import normalize_audio
from components.log_example_gen.image_normalization import normalize_image

_FFMPEG_TIMEOUT_SECONDS = 30


class MediaError(ValueError):
    """An upload the service cannot use; `status` is the HTTP code to answer with."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@dataclasses.dataclass(frozen=True)
class Attachment:
    """A normalized upload: the bytes the model reads and the log keeps."""

    data: bytes
    extension: str  # "png", "jpg" or "wav"


def decode_base64(value, field: str) -> bytes | None:
    """Bytes of a JSON media field: {"b64": "..."}, a base64 string, or a data: URL.

    Returns None for null, "" or {"b64": ""} (the modality is absent).

    Raises:
      MediaError: the value has the wrong type or is not valid base64.
    """
    if value is None:
        return None
    if isinstance(value, dict):
        if set(value) != {"b64"}:
            raise MediaError(f'\'{field}\' must be {{"b64": "..."}}, got keys {sorted(value)}')
        value = value["b64"]
    if not isinstance(value, str):
        raise MediaError(
            f"'{field}' must be base64 text or {{\"b64\": ...}}, not {type(value).__name__}"
        )
    if value.startswith("data:") and "," in value:
        value = value.split(",", 1)[1]
    if not value:
        return None
    try:
        return base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError) as error:
        raise MediaError(f"'{field}' is not valid base64: {error}") from error


def _status_of(error: quarantine.RecordRejected) -> int:
    return 413 if error.reason == quarantine.OVERSIZED_ATTACHMENT else 400


def prepare_image(data: bytes) -> Attachment:
    """PNG or JPEG bytes for the model (ingestion's converter).

    Raises:
      MediaError: undecodable (400) or too large (413), with ingestion's reason.
    """
    try:
        normalized = normalize_image(data, "image")
    except quarantine.RecordRejected as error:
        raise MediaError(f"{error.reason}: {error.detail}", _status_of(error)) from error
    return Attachment(normalized, "jpg" if normalized[:3] == b"\xff\xd8\xff" else "png")


def _ffmpeg_to_wav(data: bytes) -> bytes | None:
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        return None
    try:
        result = subprocess.run(
            [
                ffmpeg,
                "-v",
                "error",
                "-i",
                "pipe:0",
                "-ac",
                "1",
                "-ar",
                "16000",
                "-f",
                "wav",
                "pipe:1",
            ],
            input=data,
            capture_output=True,
            timeout=_FFMPEG_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout if result.returncode == 0 and result.stdout else None


def prepare_audio(data: bytes) -> Attachment:
    """16 kHz mono PCM16 WAV for the model (ingestion's converter; ffmpeg for WebM).

    Raises:
      MediaError: undecodable (400) or too long (413), with ingestion's reason.
    """
    try:
        wav, _ = normalize_audio(data, "audio")
    except quarantine.RecordRejected as error:
        converted = _ffmpeg_to_wav(data) if error.reason == quarantine.UNDECODABLE_AUDIO else None
        if converted is None:
            raise MediaError(f"{error.reason}: {error.detail}", _status_of(error)) from error
        try:
            wav, _ = normalize_audio(converted, "audio")
        except quarantine.RecordRejected as second:
            raise MediaError(f"{second.reason}: {second.detail}", _status_of(second)) from second
    return Attachment(wav, "wav")
