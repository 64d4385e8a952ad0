"""Session planning: determinism, session structure and modality mix."""

import collections
import random

import pytest

from corpus import session_plan
from corpus.sources import LabelledText
from models import features


def _contents(n=600):
    rng = random.Random(0)
    banking = [LabelledText(f"query {i}", intent="card_arrival") for i in range(n)]
    sentiment = [LabelledText(f"remark {i}", sentiment="negative") for i in range(n)]
    oos = [LabelledText(f"oos {i}", intent=features.OUT_OF_SCOPE_INTENT) for i in range(n)]
    return session_plan.select_contents(banking, sentiment, oos, None if n > 900 else n, rng)


def test_plan_is_deterministic_for_a_seed():
    contents = _contents()
    first = session_plan.plan_sessions(contents, "train", 7, n_speakers=10)
    assert first == session_plan.plan_sessions(contents, "train", 7, n_speakers=10)
    assert first != session_plan.plan_sessions(contents, "train", 8, n_speakers=10)


def test_size_sets_the_content_mix():
    contents = _contents(600)
    assert len(contents) == 600
    kinds = collections.Counter(
        "oos" if c.intent == features.OUT_OF_SCOPE_INTENT else "s" if c.sentiment else "b"
        for c in contents
    )
    assert kinds["s"] == 90 and kinds["oos"] == 42 and kinds["b"] == 468


def test_sessions_are_consistent_and_every_turn_has_content():
    turns = session_plan.plan_sessions(_contents(), "train", 1, n_speakers=10)
    sessions = collections.defaultdict(list)
    for turn in turns:
        sessions[turn.session_id].append(turn)
        assert turn.text or turn.image or turn.spoken_text
        assert turn.turn_id == f"{turn.session_id}-{turn.turn_index}"
    for session in sessions.values():
        assert 1 <= len(session) <= session_plan.MAX_TURNS_PER_SESSION
        assert len({t.channel for t in session}) == 1
        assert len({t.speaker_index for t in session}) == 1
        assert [t.turn_index for t in session] == list(range(len(session)))
        assert [t.timestamp for t in session] == sorted(t.timestamp for t in session)


def test_modality_mix_covers_the_evaluated_combinations():
    turns = session_plan.plan_sessions(_contents(), "train", 3, n_speakers=10)
    mix = collections.Counter(t.modalities for t in turns)
    for combination in ("text", "image+text", "image+vague_text", "audio", "image+audio+text"):
        assert mix[combination] > 0, combination
    voice = [t for t in turns if t.channel == "voice"]
    assert all(t.image is None and t.spoken_text for t in voice)
    assert sum(t.text is None for t in voice) / len(voice) == pytest.approx(0.7, abs=0.1)
    # Pictures only carry evidence for banking intents; sentiment remarks have none.
    assert all(t.image != "evidence" or t.intent not in (None, "out_of_scope") for t in turns)


def test_typed_copies_type_every_query_in_its_own_session_and_change_nothing_else():
    contents = _contents()
    plain = session_plan.plan_sessions(contents, "train", 5, n_speakers=10)
    typed = session_plan.plan_sessions(contents, "train", 5, n_speakers=10, typed_copies=True)
    by_id = {turn.turn_id: turn for turn in typed}
    # The planned turns (so their rendered pictures and speech) are the same.
    assert all(by_id[turn.turn_id] == turn for turn in plain)
    copies = [turn for turn in typed if turn.turn_id not in {t.turn_id for t in plain}]
    not_typed = [turn for turn in plain if turn.text not in {c.text for c in contents}]
    assert len(copies) == len(not_typed) > 0
    # Each copy is a plain chat text turn with its query's full text and labels, in the
    # session of the turn it copies, so the train/eval split keeps them together.
    texts = {c.text: c for c in contents}
    for copy in copies:
        assert copy.modalities == "text" and copy.channel == session_plan.TYPED_COPY_CHANNEL
        content = texts[copy.text]
        assert (copy.intent, copy.sentiment) == (content.intent, content.sentiment)
    originals = collections.Counter(
        (turn.session_id, turn.intent, turn.sentiment) for turn in not_typed
    )
    assert originals == collections.Counter(
        (copy.session_id, copy.intent, copy.sentiment) for copy in copies
    )
    sessions = collections.defaultdict(list)
    for turn in typed:
        sessions[turn.session_id].append(turn)
    for session in sessions.values():
        assert [t.turn_index for t in session] == list(range(len(session)))
        assert all(t.turn_id == f"{t.session_id}-{t.turn_index}" for t in session)
        assert [t.timestamp for t in session] == sorted(t.timestamp for t in session)
    # Every query is now typed in full somewhere.
    assert {t.text for t in typed} >= {c.text for c in contents}
