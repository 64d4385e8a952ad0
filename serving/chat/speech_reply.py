"""Spoken replies for voice conversations: espeak-ng text-to-speech as WAV bytes."""

import logging
import shutil
import subprocess

DEFAULT_VOICE = "en-us"
_TIMEOUT_SECONDS = 20

_log = logging.getLogger(__name__)


def available() -> bool:
    return shutil.which("espeak-ng") is not None


def synthesize(text: str, voice: str = DEFAULT_VOICE) -> bytes | None:
    """WAV bytes of `text` spoken by espeak-ng, or None when it is missing or fails.

    A missing spoken reply never fails the turn: the text reply is always there.
    """
    espeak = shutil.which("espeak-ng")
    if espeak is None or not text.strip():
        return None
    try:
        # Text on stdin, so nothing the customer influences becomes a command-line option.
        result = subprocess.run(
            [espeak, "-v", voice, "--stdout", "--stdin"],
            input=text.encode("utf-8"),
            capture_output=True,
            timeout=_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        _log.warning("espeak-ng failed: %s", error)
        return None
    if result.returncode != 0 or not result.stdout.startswith(b"RIFF"):
        _log.warning("espeak-ng failed (%d): %s", result.returncode, result.stderr[:200])
        return None
    return result.stdout
