"""Audio attachments: decode any supported format and resample to 16 kHz mono WAV."""

import io
import math

import numpy as np
import soundfile
from scipy import signal

from components.log_example_gen import quarantine
from models import features

MAX_AUDIO_SECONDS = 300.0
MIN_AUDIO_SECONDS = 0.05


def normalize_audio(data: bytes, name: str) -> tuple[bytes, float]:
    """Decodes WAV, FLAC, OGG/Vorbis or MP3 of any rate and channel count.

    Args:
      data: the attachment file's bytes.
      name: the attachment path, for error messages.

    Returns:
      (16 kHz mono PCM16 WAV bytes, duration in seconds).

    Raises:
      quarantine.RecordRejected: UNDECODABLE_AUDIO or OVERSIZED_ATTACHMENT.
    """
    try:
        with soundfile.SoundFile(io.BytesIO(data)) as audio_file:
            rate = audio_file.samplerate
            frames = audio_file.frames
            if frames > 0 and frames / rate > MAX_AUDIO_SECONDS:
                raise quarantine.RecordRejected(
                    quarantine.OVERSIZED_ATTACHMENT,
                    f"audio {name!r} lasts {frames / rate:.1f} s, over {MAX_AUDIO_SECONDS:.0f} s",
                )
            samples = audio_file.read(dtype="float32", always_2d=True)
    except quarantine.RecordRejected:
        raise
    except (soundfile.LibsndfileError, RuntimeError, TypeError, ValueError) as error:
        raise quarantine.RecordRejected(
            quarantine.UNDECODABLE_AUDIO,
            f"audio {name!r} is not readable WAV, FLAC, OGG/Vorbis or MP3: {error}",
        ) from error

    duration = samples.shape[0] / rate
    if duration < MIN_AUDIO_SECONDS:
        raise quarantine.RecordRejected(
            quarantine.UNDECODABLE_AUDIO,
            f"audio {name!r} holds {samples.shape[0]} samples ({duration:.3f} s); "
            f"expected at least {MIN_AUDIO_SECONDS} s",
        )
    if not np.all(np.isfinite(samples)):
        raise quarantine.RecordRejected(
            quarantine.UNDECODABLE_AUDIO, f"audio {name!r} contains NaN or infinite samples"
        )

    mono = samples.mean(axis=1)
    target = features.AUDIO_SAMPLE_RATE
    if rate != target:
        divisor = math.gcd(rate, target)
        # Polyphase resampling with its anti-aliasing filter: exact rational ratios.
        mono = signal.resample_poly(mono, target // divisor, rate // divisor)
    mono = np.clip(mono, -1.0, 1.0)
    out = io.BytesIO()
    soundfile.write(out, mono, target, format="WAV", subtype="PCM_16")
    return out.getvalue(), mono.shape[0] / target
