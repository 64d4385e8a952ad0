"""Speech recognition: the Whisper base model joined from its two packages, transcripts of
real sample voice messages, the transcript cache, and its place in record conversion."""

import io
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile
import tensorflow as tf

from components.log_example_gen.audio_normalization import normalize_audio
from components.log_example_gen.record_conversion import IngestLimits, convert_record
from models import features, speech_recognition
from tests.sample_run import SAMPLE

# A sample voice turn whose log text is what the clip says.
SPOKEN_TURN = "train-s00005-2"


def _sample_record(turn_id: str) -> tuple[bytes, dict]:
    for line in (SAMPLE / "turns-00000.jsonl").read_bytes().splitlines():
        record = json.loads(line)
        if record["turn_id"] == turn_id:
            return line, record
    raise AssertionError(f"{turn_id} is not in the sample")


def _words(text: str) -> list[str]:
    return "".join(c if c.isalnum() else " " for c in text.lower()).split()


@pytest.fixture(scope="module")
def recognizer(cache_dir):
    return speech_recognition.SpeechRecognizer()


@pytest.fixture(scope="module")
def spoken_wav():
    _, record = _sample_record(SPOKEN_TURN)
    data = (SAMPLE / record["audio"]).read_bytes()
    wav, _ = normalize_audio(data, record["audio"])
    return wav, record["text"]


def test_model_is_joined_from_both_packages_once(cache_dir):
    model_dir = Path(speech_recognition.whisper_model_dir())
    assert model_dir.parent == cache_dir
    parts = [
        speech_recognition._part_dir(p) / f"model.bin.part{i}"
        for i, p in enumerate(speech_recognition._PARTS, start=1)
    ]
    assert (model_dir / "model.bin").stat().st_size == sum(p.stat().st_size for p in parts)
    for name in speech_recognition._MODEL_FILES:
        assert (model_dir / name).exists()
    modified = (model_dir / "model.bin").stat().st_mtime_ns
    assert speech_recognition.whisper_model_dir() == str(model_dir)
    assert (model_dir / "model.bin").stat().st_mtime_ns == modified
    assert not [p for p in cache_dir.iterdir() if p.name.startswith(".")]  # no leftovers


def test_transcribes_a_sample_voice_message(recognizer, spoken_wav):
    wav, said = spoken_wav
    heard = _words(recognizer.transcribe(wav, "en"))
    expected = _words(said)
    overlap = sum(min(heard.count(w), expected.count(w)) for w in set(expected))
    assert overlap >= 0.8 * len(expected), (heard, expected)


def test_transcripts_are_deterministic_and_cached(recognizer, spoken_wav, monkeypatch):
    wav, _ = spoken_wav
    first = recognizer.transcribe(wav, "en")
    cached = recognizer._cache_path(wav, "en")
    assert cached.read_text() == first

    def no_model(*args, **kwargs):
        raise AssertionError("the cached transcript should have been used")

    monkeypatch.setattr(recognizer.model, "transcribe", no_model)
    assert recognizer.transcribe(wav, "en") == first
    fresh = speech_recognition.SpeechRecognizer(use_cache=False)
    assert fresh.transcribe(wav, "en") == first


def test_hypotheses_are_the_beams_transcripts_best_first_and_cached(
    recognizer, spoken_wav, monkeypatch
):
    wav, _ = spoken_wav
    fresh = speech_recognition.SpeechRecognizer(use_cache=False)
    found = fresh.hypotheses(wav, "en")
    assert 2 <= len(found) <= speech_recognition.N_BEST
    assert found[0].text == fresh.transcribe(wav, "en")  # the same decoding
    assert len({h.text for h in found}) == len(found)
    assert sum(h.weight for h in found) == pytest.approx(1.0)
    assert all(0 < h.weight < 1 for h in found)
    # Asking for them leaves the transcript as it was (the beam returns one again).
    assert fresh.transcribe(wav, "en") == found[0].text
    assert fresh.model.model.n_best == 1

    assert recognizer.hypotheses(wav, "en") == found
    monkeypatch.setattr(recognizer.model, "transcribe", _no_model)
    assert recognizer.hypotheses(wav, "en") == found


def _no_model(*args, **kwargs):
    raise AssertionError("the cached result should have been used")


def test_english_is_decoded_after_the_banking_prompt(recognizer, spoken_wav, monkeypatch):
    wav, _ = spoken_wav
    calls = []
    transcribe = recognizer.model.transcribe

    def spy(samples, **kwargs):
        calls.append(kwargs)
        return transcribe(samples, **kwargs)

    monkeypatch.setattr(recognizer.model, "transcribe", spy)
    fresh = speech_recognition.SpeechRecognizer(use_cache=False)
    fresh._model = recognizer.model
    english = fresh.transcribe(wav, "en")
    # An untagged clip is detected as English and gets the same prompt and transcript.
    assert fresh.transcribe(wav, None) == english
    fresh.transcribe(wav, "de")
    assert [c["language"] for c in calls] == ["en", "en", "de"]
    assert [c["initial_prompt"] for c in calls] == [speech_recognition.BANKING_PROMPT] * 2 + [None]
    assert {c["beam_size"] for c in calls} == {speech_recognition.BEAM_SIZE}


def test_the_cache_is_keyed_by_the_decoding_settings(recognizer, spoken_wav, monkeypatch):
    wav, _ = spoken_wav
    path = recognizer._cache_path(wav, "en")
    assert speech_recognition.recognizer_version() in str(path)
    monkeypatch.setattr(speech_recognition, "BEAM_SIZE", 1)
    other = speech_recognition.SpeechRecognizer()
    assert other._cache_path(wav, "en") != path


def test_silence_has_an_empty_or_short_transcript(recognizer):
    out = io.BytesIO()
    soundfile.write(out, np.zeros(16_000, "float32"), 16_000, subtype="PCM_16", format="WAV")
    assert len(_words(recognizer.transcribe(out.getvalue(), "en"))) <= 3


def test_language_tags_map_to_whisper_codes():
    assert speech_recognition.whisper_language("en-GB") == "en"
    assert speech_recognition.whisper_language("zh-Hant") == "zh"
    assert speech_recognition.whisper_language("pt_BR") == "pt"
    assert speech_recognition.whisper_language("tlh") is None  # unknown: detected
    assert speech_recognition.whisper_language("") is None


def test_regional_tags_share_the_transcript_of_their_language(recognizer, spoken_wav):
    wav, _ = spoken_wav
    assert recognizer.transcribe(wav, "en-GB") == recognizer.transcribe(wav, "en")


def test_only_16khz_mono_wav_is_accepted(recognizer):
    out = io.BytesIO()
    soundfile.write(out, np.zeros((4410, 2), "float32"), 44_100, subtype="PCM_16", format="WAV")
    with pytest.raises(ValueError, match="16000 Hz mono"):
        recognizer.transcribe(out.getvalue())
    with pytest.raises(ValueError, match="not a WAV"):
        recognizer.transcribe(b"RIFF but not really")


def test_record_conversion_writes_the_transcript_of_voice_turns_only(recognizer, spoken_wav):
    raw, _ = _sample_record(SPOKEN_TURN)
    source = f"{SAMPLE / 'turns-00000.jsonl'}:13"
    example = tf.train.Example.FromString(
        convert_record(source, str(SAMPLE), raw, IngestLimits(), recognizer).serialized_example
    )
    wav, _ = spoken_wav
    transcript = example.features.feature[features.TRANSCRIPT_KEY].bytes_list.value
    assert [t.decode() for t in transcript] == [recognizer.transcribe(wav, "en")]
    without = tf.train.Example.FromString(
        convert_record(source, str(SAMPLE), raw, IngestLimits()).serialized_example
    )
    assert features.TRANSCRIPT_KEY not in without.features.feature

    text_only = json.dumps(
        {**json.loads(raw), "turn_id": "t", "audio": None, "image": None}
    ).encode()
    converted = convert_record(source, str(SAMPLE), text_only, IngestLimits(), recognizer)
    example = tf.train.Example.FromString(converted.serialized_example)
    assert features.TRANSCRIPT_KEY not in example.features.feature
