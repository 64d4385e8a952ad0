"""Channel effects for synthetic voice turns: padding, resampling, noise, stereo, gain, encoding.

All functions are pure: randomness comes in through an explicit numpy Generator or explicit
parameters, so a caller seeding them from one `random.Random` gets reproducible audio.
"""

from __future__ import annotations

import io
import math

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

NOISE_KINDS = ("white", "pink", "brown", "babble", "hum")
FORMATS = ("wav", "flac", "ogg", "mp3")

# soundfile (libsndfile 1.2) format and subtype per file extension.
_SOUNDFILE_FORMATS = {
    "wav": ("WAV", "PCM_16"),
    "flac": ("FLAC", "PCM_16"),
    "ogg": ("OGG", "VORBIS"),
    "mp3": ("MP3", "MPEG_LAYER_III"),
}
_FRAME_S = 0.02
# Frames quieter than this (relative to the loudest frame) are pauses, not speech.
_ACTIVE_FRAME_DB = -35.0


def pad_silence(samples: np.ndarray, rate: int, lead_s: float, tail_s: float) -> np.ndarray:
    """Adds digital silence before and after the speech, as a recording would have."""
    lead = np.zeros(int(lead_s * rate), dtype=np.float32)
    tail = np.zeros(int(tail_s * rate), dtype=np.float32)
    return np.concatenate([lead, samples.astype(np.float32), tail])


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Resamples mono audio with a polyphase anti-aliasing filter."""
    if from_rate == to_rate:
        return samples.astype(np.float32)
    divisor = math.gcd(from_rate, to_rate)
    out = resample_poly(samples, to_rate // divisor, from_rate // divisor)
    return out.astype(np.float32)


def speech_power(samples: np.ndarray, rate: int) -> float:
    """Mean power of the active-speech frames (pauses excluded), for a fair SNR."""
    frame = max(1, int(_FRAME_S * rate))
    count = len(samples) // frame
    if count == 0:
        return float(np.mean(samples.astype(np.float64) ** 2))
    frames = samples[: count * frame].astype(np.float64).reshape(count, frame)
    powers = np.mean(frames**2, axis=1)
    active = powers[powers >= powers.max() * 10 ** (_ACTIVE_FRAME_DB / 10)]
    return float(np.mean(active))


def _colored_noise(n: int, rate: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    """Noise with a 1/f**exponent power spectrum (1: pink, 2: brown), shaped in the FFT domain."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, d=1.0 / rate)
    # Flatten below 20 Hz so the DC bin does not dominate (and no division by zero).
    spectrum /= np.maximum(freqs, 20.0) ** (exponent / 2)
    return np.fft.irfft(spectrum, n=n)


def _babble_noise(speech: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Crowd-like babble: several time-reversed, re-pitched, offset copies of the speech.

    Reversed speech keeps a speech spectrum and syllabic rhythm but is unintelligible, so
    it sounds like talkers in the background without leaking words into the transcript.
    """
    reversed_speech = speech[::-1].astype(np.float64)
    babble = np.zeros(n)
    for _ in range(int(rng.integers(4, 9))):
        factor = rng.uniform(0.8, 1.25)  # other talkers speak higher or lower
        positions = np.arange(0, len(reversed_speech) - 1, factor)
        talker = np.interp(positions, np.arange(len(reversed_speech)), reversed_speech)
        talker = np.roll(np.resize(talker, n), int(rng.integers(0, n)))
        babble += talker * rng.uniform(0.5, 1.0)
    return babble


def _hum_noise(n: int, rate: int, rng: np.random.Generator) -> np.ndarray:
    """Mains hum (50 or 60 Hz with decaying harmonics) over a faint hiss."""
    fundamental = 50.0 if rng.random() < 0.5 else 60.0
    t = np.arange(n) / rate
    hum = np.zeros(n)
    for harmonic in range(1, 8):
        if fundamental * harmonic < rate / 2:
            phase = rng.uniform(0, 2 * np.pi)
            hum += np.sin(2 * np.pi * fundamental * harmonic * t + phase) / harmonic**1.2
    return hum + 0.03 * rng.standard_normal(n)


def make_noise(
    kind: str, n: int, rate: int, rng: np.random.Generator, speech: np.ndarray
) -> np.ndarray:
    """Generates `n` samples of background noise of `kind` (one of NOISE_KINDS), unit power."""
    if kind == "white":
        noise = rng.standard_normal(n)
    elif kind == "pink":
        noise = _colored_noise(n, rate, 1.0, rng)
    elif kind == "brown":
        noise = _colored_noise(n, rate, 2.0, rng)
    elif kind == "babble":
        noise = _babble_noise(speech, n, rng)
    elif kind == "hum":
        noise = _hum_noise(n, rate, rng)
    else:
        raise ValueError(f"unknown noise kind {kind!r}; expected one of {NOISE_KINDS}")
    noise = noise - noise.mean()
    return noise / max(float(np.sqrt(np.mean(noise**2))), 1e-12)


def add_noise(
    samples: np.ndarray, rate: int, kind: str, snr_db: float, rng: np.random.Generator
) -> np.ndarray:
    """Mixes background noise of `kind` at `snr_db` relative to the active speech level."""
    noise = make_noise(kind, len(samples), rate, rng, samples)
    noise_rms = math.sqrt(speech_power(samples, rate) / 10 ** (snr_db / 10))
    return (samples + noise_rms * noise).astype(np.float32)


def to_stereo(samples: np.ndarray, delay_samples: int = 0, right_gain: float = 1.0) -> np.ndarray:
    """Makes a (frames, 2) signal; a delay and gain on the right channel mimic two mics."""
    right = np.concatenate([np.zeros(delay_samples, np.float32), samples])[: len(samples)]
    return np.stack([samples, right * right_gain], axis=1).astype(np.float32)


def set_peak(samples: np.ndarray, peak_dbfs: float) -> np.ndarray:
    """Scales the signal so its peak is `peak_dbfs` (<= 0, so nothing clips)."""
    peak = float(np.max(np.abs(samples)))
    if peak == 0.0:
        return samples.astype(np.float32)
    return (samples * (10 ** (peak_dbfs / 20) / peak)).astype(np.float32)


def encode(
    samples: np.ndarray,
    rate: int,
    extension: str,
    compression_level: float | None = None,
    ogg_serial: int = 0,
) -> bytes:
    """Encodes float audio, shape (frames,) or (frames, channels), to file bytes.

    Args:
        samples: audio in [-1, 1].
        rate: sample rate in Hz.
        extension: one of FORMATS.
        compression_level: 0 (best quality, largest) to 1 (smallest); ignored for WAV.
            Stay <= 0.9: LAME rejects 1.0 at low rates.
        ogg_serial: Ogg stream serial number to write.

    Returns:
        The encoded file.
    """
    file_format, subtype = _SOUNDFILE_FORMATS[extension]
    if extension == "wav":
        compression_level = None
    buffer = io.BytesIO()
    sf.write(
        buffer,
        samples,
        rate,
        format=file_format,
        subtype=subtype,
        compression_level=compression_level,
    )
    data = buffer.getvalue()
    if extension == "ogg":
        # libsndfile picks a random Ogg serial number: the only non-deterministic bytes.
        data = set_ogg_serial(data, ogg_serial)
    return data


def _make_ogg_crc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
        table.append(crc & 0xFFFFFFFF)
    return tuple(table)


_OGG_CRC_TABLE = _make_ogg_crc_table()


def _ogg_crc(page: bytes | bytearray) -> int:
    """Ogg page checksum: CRC-32, polynomial 0x04C11DB7, no reflection, zero init."""
    crc = 0
    for byte in page:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _OGG_CRC_TABLE[(crc >> 24) ^ byte]
    return crc


def set_ogg_serial(data: bytes, serial: int) -> bytes:
    """Rewrites the stream serial number of every Ogg page and fixes the page checksums."""
    buffer = bytearray(data)
    position = 0
    while position < len(buffer):
        if buffer[position : position + 4] != b"OggS":
            raise ValueError(f"not an Ogg page at byte {position}")
        segments = buffer[position + 26]
        lacing = buffer[position + 27 : position + 27 + segments]
        end = position + 27 + segments + sum(lacing)
        buffer[position + 14 : position + 18] = (serial & 0xFFFFFFFF).to_bytes(4, "little")
        buffer[position + 22 : position + 26] = b"\0\0\0\0"
        crc = _ogg_crc(buffer[position:end])
        buffer[position + 22 : position + 26] = crc.to_bytes(4, "little")
        position = end
    return bytes(buffer)
