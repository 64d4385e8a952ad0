"""The speech recognition WER benchmark's pieces: word error counting, and what each voice
clip of a rendered corpus says, recovered from the corpus plan."""

import json

import pytest

from benchmarks import speech_wer
from corpus import generator
from models import features, speech_recognition
from tests.sample_run import SAMPLE
from tests.shared_data import SHARED_DATA, requires_shared_data


def test_word_error_counting():
    assert speech_wer.words("I'd like a TOP-UP, please.") == [
        "i'd",
        "like",
        "a",
        "top",
        "up",
        "please",
    ]
    said = speech_wer.words("my card has not arrived")
    assert speech_wer.edit_distance(said, said) == 0
    assert speech_wer.edit_distance(said, speech_wer.words("my car has not arrived yet")) == 2
    assert speech_wer.edit_distance(said, []) == len(said)
    assert speech_wer.edit_distance([], ["uh"]) == 1


def test_the_served_decoding_is_one_of_the_measured_ones():
    served = [
        name
        for name, d in speech_wer.DECODINGS.items()
        if d == speech_recognition.Decoding.served()
    ]
    assert served == ["beam 5 + prompt"]
    names = {d.name for d in speech_wer.DECODINGS.values()}
    assert len(names) == len(speech_wer.DECODINGS)  # each has its own transcript cache


@pytest.fixture(scope="module")
def sample_manifest():
    return json.loads((SAMPLE / generator.MANIFEST_FILE).read_text())


@requires_shared_data
def test_the_plan_reproduces_the_rendered_sample(sample_manifest):
    settings = dict(sample_manifest["config"])
    csv = SHARED_DATA / "banking77" / settings.pop("banking77_csv")
    planned = generator.plan_corpus(csv, SHARED_DATA, generator.CorpusConfig(**settings))
    records = [json.loads(line) for line in (SAMPLE / "turns-00000.jsonl").read_text().splitlines()]
    assert [t.turn_id for t in planned] == [r[features.TURN_ID_KEY] for r in records]
    for turn, record in zip(planned, records, strict=True):
        assert turn.text == record[features.TEXT_KEY]
        assert turn.intent == record[features.INTENT_KEY]
        assert (turn.spoken_text is not None) == (record[features.AUDIO_KEY] is not None)


@requires_shared_data
def test_sample_clips_are_heard_close_to_what_they_say(sample_manifest):
    clips = speech_wer.voice_clips(SAMPLE, sample_manifest, SHARED_DATA, 3)
    assert len(clips) == 3
    assert all(clip["said"] and clip["wav"][:4] == b"RIFF" for clip in clips)
    result = speech_wer.word_error_rate(speech_recognition.shared_recognizer(), clips)
    assert result["reference_words"] == sum(len(speech_wer.words(c["said"])) for c in clips)
    assert result["word_error_rate"] < 0.5
