"""The chat service against the real model: the pushed sample model behind ModelServer
(or a real TF Serving when MMCS_TF_SERVING_URL is set).

The sample model is weak, so these tests check behaviour (state, rules, persistence,
logging, errors) and make the dialogue outcome deterministic through the thresholds,
never by expecting a particular intent.
"""

import dataclasses
import json
import socket

import pytest

import schemas
from components.log_example_gen import beam_ingest
from serving.chat import dialogue_policy, knowledge_base
from serving.chat.dialogue_policy import PolicyConfig
from tests.sample_run import SAMPLE
from tests.serving import rest_support
from tests.serving.chat import chat_support
from tests.serving.chat.chat_support import b64, create, history, send

KB = knowledge_base.load()
# No sentiment handoffs: they would depend on what the weak model guesses.
NO_SENTIMENT_RULE = {"negative_handoff_count": 99}


@pytest.fixture(scope="module")
def model(request):
    yield from rest_support.serve(request, poll_seconds=0)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("chat-model")


@pytest.fixture(scope="module")
def server(model, workdir):
    chat = chat_support.build_server(str(workdir), model.url, timeout_seconds=60)
    chat.service.model.model_name = model.model_name
    with chat.start():
        yield chat


@pytest.fixture(autouse=True)
def _defaults(server, model):
    server.service.model.url = model.url
    server.service.policy = PolicyConfig(**NO_SENTIMENT_RULE)


def _sample_turn(kind: str) -> dict:
    """A turn of the embedded sample with a picture or a voice message (any format)."""
    with open(SAMPLE / "turns-00000.jsonl", encoding="utf-8") as f:
        for line in f:
            record = json.loads(line)
            if record.get(kind):
                return record
    raise AssertionError(f"no {kind} turn in the sample")


def _media(record: dict, kind: str) -> dict:
    return b64((SAMPLE / record[kind]).read_bytes())


def test_text_picture_and_voice_turns_get_consistent_answers(server):
    image_turn, audio_turn = _sample_turn("image"), _sample_turn("audio")
    server.service.policy = PolicyConfig(confidence_threshold=0.0, **NO_SENTIMENT_RULE)
    conversation = create(server.url)
    replies = [
        send(server.url, conversation, text="I am still waiting on my card?"),
        send(server.url, conversation, text="see picture", image=_media(image_turn, "image")),
        send(server.url, conversation, audio=_media(audio_turn, "audio")),
    ]
    for index, reply in enumerate(replies):
        assert reply["turn_index"] == index
        assert reply["model_intent"] in schemas.intent_labels()
        assert 0.0 <= reply["model_confidence"] <= 1.0
        assert reply["sentiment"] in schemas.sentiment_labels()
        # Threshold 0: a turn is answered unless the model itself calls it out of scope
        # (and then it may still be answered with the first turn's context).
        if reply["action"] == "answer":
            assert reply["reply"] == KB.reply(reply["intent"])
            if reply["context_turn_index"] is None:
                assert not reply["out_of_scope"]
                assert reply["intent"] == reply["model_intent"]
            else:
                assert reply["out_of_scope"] and reply["context_turn_index"] < index
        else:
            assert reply["out_of_scope"] and reply["action"] in ("clarify", "handoff")
    turns = history(server.url, conversation)["turns"]
    assert [t["image"] is not None for t in turns] == [False, True, False]
    assert [t["audio"] is not None for t in turns] == [False, False, True]


def test_unclear_turns_clarify_then_hand_off_with_the_real_model(server):
    # Threshold above 1: no turn is ever clear, whatever the model says.
    server.service.policy = PolicyConfig(confidence_threshold=1.01, **NO_SENTIMENT_RULE)
    conversation = create(server.url)
    first = send(server.url, conversation, text="I am still waiting on my card?")
    assert first["action"] == "clarify"
    assert first["reply"] in {KB.reply("out_of_scope")} | {
        KB.clarifying_question(label) for label in schemas.intent_labels()
    }
    second = send(server.url, conversation, text="the thing from before")
    assert second["action"] == "handoff"
    assert second["handoff"]["reason"] == "unclear"
    third = send(server.url, conversation, text="hello?")
    assert third["action"] == dialogue_policy.AFTER_HANDOFF
    events = history(server.url, conversation)["events"]
    assert [(e["type"], e["reason"]) for e in events] == [("handoff", "unclear")]


def _dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def test_a_dead_model_url_then_the_real_server_loses_nothing(server, model):
    conversation = create(server.url)
    server.service.model.url = _dead_url()
    down = send(server.url, conversation, text="my card was declined")
    assert down["action"] == "model_unavailable"
    assert down["reply"] == KB.model_unavailable
    assert "unreachable" in down["model_error"]
    server.service.model.url = model.url
    up = send(server.url, conversation, text="my card was declined")
    assert up["turn_index"] == 1
    assert up["model_error"] is None and up["model_intent"] in schemas.intent_labels()
    got = history(server.url, conversation)
    assert [t["text"] for t in got["turns"]] == ["my card was declined"] * 2
    assert [(e["type"], e["turn_id"]) for e in got["events"]] == [
        ("model_error", f"{conversation}-0")
    ]


def test_a_restarted_service_continues_the_conversation(server, model, tmp_path):
    policy = PolicyConfig(confidence_threshold=1.01, **NO_SENTIMENT_RULE)
    first = chat_support.build_server(str(tmp_path), model.url, policy=policy, timeout_seconds=60)
    first.service.model.model_name = model.model_name
    with first.start():
        conversation = create(first.url)
        assert send(first.url, conversation, text="where is my card")["action"] == "clarify"
        before = history(first.url, conversation)
    second = chat_support.build_server(str(tmp_path), model.url, policy=policy, timeout_seconds=60)
    second.service.model.model_name = model.model_name
    with second.start():
        assert history(second.url, conversation) == before
        # The clarifying question before the restart still counts: this turn hands off.
        reply = send(second.url, conversation, text="still nothing")
        assert reply["turn_index"] == 1
        assert reply["action"] == "handoff" and reply["handoff"]["reason"] == "unclear"


def test_the_traffic_log_is_ingested_without_quarantine(server, tmp_path):
    image_turn, audio_turn = _sample_turn("image"), _sample_turn("audio")
    conversation = create(server.url, channel="voice")
    send(server.url, conversation, text="I am still waiting on my card?")
    send(server.url, conversation, image=_media(image_turn, "image"))
    send(server.url, conversation, text="listen", audio=_media(audio_turn, "audio"))
    log_dir = server.service.traffic_log.log_dir
    logged = chat_support.parsed_log(log_dir)
    assert sum(r["session_id"] == conversation for r in logged) == 3
    assert all(r["channel"] == "voice" for r in logged if r["session_id"] == conversation)

    summary = beam_ingest.ingest_folder(log_dir, str(tmp_path / "ingested"))
    assert summary["quarantined"] == 0, summary
    assert summary["records_in"] == summary["examples_out"] == len(logged)


def test_policy_changes_do_not_leak_between_tests(server):
    assert dataclasses.asdict(server.service.policy)["negative_handoff_count"] == 99
