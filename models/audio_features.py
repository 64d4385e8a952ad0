"""Log-mel spectrogram of the turn audio, computed with core TensorFlow ops only.

Ingestion writes every attachment as 16 kHz mono PCM16 WAV (`features.AUDIO_KEY`), so
the graph decodes it with `tf.audio.decode_wav` and needs no resampling; TF Serving's
stock binary has no tensorflow-io ops, so nothing here may use them.

Features, per `features`: the first `AUDIO_MAX_SECONDS` of the waveform (in [-1, 1]),
periodic Hann windows of 25 ms (400 samples) every 20 ms (320 samples), a 512-point
FFT, the power spectrum mapped onto `AUDIO_MEL_BINS` HTK-mel triangles between
`MEL_LOWER_HZ` and `MEL_UPPER_HZ` (the YAMNet/VGGish band, which leaves out hum and
the band edge), then `log(mel + LOG_OFFSET)`. Frame i covers samples
[320 i, 320 i + 400); the end is zero-padded, so a clip of duration d seconds has
ceil(d / 0.02) frames, at most `AUDIO_FRAMES` = 400. Frames past the clip (and every
frame of a turn without audio) are 0.0 with frame mask 0; real frames have mask 1
(digital silence inside a clip is log(LOG_OFFSET) ~ -13.8, not 0).
"""

import math

import tensorflow as tf

from models import features

FRAME_LENGTH = round(features.AUDIO_FRAME_LENGTH_SECONDS * features.AUDIO_SAMPLE_RATE)  # 400
FRAME_STEP = round(features.AUDIO_FRAME_STEP_SECONDS * features.AUDIO_SAMPLE_RATE)  # 320
FFT_LENGTH = 2 ** math.ceil(math.log2(FRAME_LENGTH))  # 512
MAX_SAMPLES = FRAME_STEP * features.AUDIO_FRAMES  # 128,000 = AUDIO_MAX_SECONDS
MEL_LOWER_HZ = 125.0
MEL_UPPER_HZ = 7500.0
LOG_OFFSET = 1e-6


def audio_present(audio: tf.Tensor) -> tf.Tensor:
    """Return bool [batch]: the WAV bytes are not empty."""
    return tf.strings.length(audio) > 0


def decode_waveform(wav: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Decode one 16 kHz PCM16 WAV into a fixed-length mono waveform.

    Args:
        wav: scalar string, WAV bytes (several channels are averaged to mono).

    Returns:
        float32 [MAX_SAMPLES]: the first `MAX_SAMPLES` samples, zero-padded; and the
        int32 number of real samples.

    Raises:
        tf.errors.InvalidArgumentError (when run): not a PCM16 WAV, or not at
            `features.AUDIO_SAMPLE_RATE`.
    """
    samples, sample_rate = tf.audio.decode_wav(wav)
    check_rate = tf.debugging.assert_equal(
        sample_rate,
        features.AUDIO_SAMPLE_RATE,
        message=f"audio must be {features.AUDIO_SAMPLE_RATE} Hz WAV (as ingestion writes it)",
    )
    with tf.control_dependencies([check_rate]):
        waveform = tf.reduce_mean(samples, axis=1)[:MAX_SAMPLES]
    length = tf.shape(waveform)[0]
    return tf.pad(waveform, [[0, MAX_SAMPLES - length]]), length


def mel_weight_matrix() -> tf.Tensor:
    """Return float32 [FFT_LENGTH // 2 + 1, AUDIO_MEL_BINS]: power bins -> HTK-mel bands."""
    return tf.signal.linear_to_mel_weight_matrix(
        num_mel_bins=features.AUDIO_MEL_BINS,
        num_spectrogram_bins=FFT_LENGTH // 2 + 1,
        sample_rate=features.AUDIO_SAMPLE_RATE,
        lower_edge_hertz=MEL_LOWER_HZ,
        upper_edge_hertz=MEL_UPPER_HZ,
    )


def log_mel_spectrogram(waveforms: tf.Tensor, lengths: tf.Tensor) -> dict[str, tf.Tensor]:
    """Compute masked log-mel frames of a batch of fixed-length waveforms.

    Args:
        waveforms: float32 [batch, MAX_SAMPLES], zero-padded.
        lengths: int32 [batch], real samples per row (0 = no audio).

    Returns:
        float32 [batch, AUDIO_FRAMES, AUDIO_MEL_BINS] under `features.AUDIO_LOG_MEL_KEY`
        and int64 [batch, AUDIO_FRAMES] under `features.AUDIO_FRAME_MASK_KEY`.
    """
    stft = tf.signal.stft(
        waveforms,
        frame_length=FRAME_LENGTH,
        frame_step=FRAME_STEP,
        fft_length=FFT_LENGTH,
        window_fn=tf.signal.hann_window,
        pad_end=True,
    )
    power = tf.math.square(tf.math.abs(stft))
    log_mel = tf.math.log(tf.tensordot(power, mel_weight_matrix(), axes=1) + LOG_OFFSET)
    log_mel = tf.ensure_shape(log_mel, (None, features.AUDIO_FRAMES, features.AUDIO_MEL_BINS))
    frames = (lengths + FRAME_STEP - 1) // FRAME_STEP  # ceil: a partial last frame counts
    frame_mask = tf.sequence_mask(frames, features.AUDIO_FRAMES)
    return {
        features.AUDIO_LOG_MEL_KEY: tf.where(frame_mask[:, :, tf.newaxis], log_mel, 0.0),
        features.AUDIO_FRAME_MASK_KEY: tf.cast(frame_mask, tf.int64),
    }


def audio_log_mel(audio: tf.Tensor, present: tf.Tensor) -> dict[str, tf.Tensor]:
    """Decode a batch of WAV bytes into masked log-mel frames; absent rows are zeros.

    Args:
        audio: string [batch] of WAV bytes (b"" where absent).
        present: bool [batch]; only these rows are decoded.

    Returns:
        As `log_mel_spectrogram`.
    """
    silence = (tf.zeros((MAX_SAMPLES,), tf.float32), tf.constant(0, tf.int32))

    def decode_row(row):
        wav, row_present = row
        return tf.cond(row_present, lambda: decode_waveform(wav), lambda: silence)

    waveforms, lengths = tf.map_fn(
        decode_row,
        (audio, present),
        fn_output_signature=(
            tf.TensorSpec((MAX_SAMPLES,), tf.float32),
            tf.TensorSpec((), tf.int32),
        ),
    )
    return log_mel_spectrogram(waveforms, lengths)
