"""The chat service's REST API end to end over HTTP, with a scripted model server.

Scripted predictions make every dialogue rule deterministic; test_chat_with_model.py
runs the same service against the real pushed model.
"""

import base64
import concurrent.futures
import http.client
import io
import json
import socket
import sqlite3

import jsonschema
import pytest
import requests
import soundfile

import schemas
from components.log_example_gen import record_conversion
from models import features
from serving.chat import knowledge_base
from tests.serving.chat import chat_support
from tests.serving.chat.chat_support import b64, create, history, send
from tests.serving.chat.fake_model import FakeModelServer, prediction

KB = knowledge_base.load()
MAX_BODY_BYTES = 1024 * 1024


@pytest.fixture(scope="module")
def fake_model():
    with FakeModelServer() as fake:
        yield fake


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("chat")


@pytest.fixture(scope="module")
def server(fake_model, workdir):
    chat = chat_support.build_server(
        str(workdir), fake_model.url, max_body_bytes=MAX_BODY_BYTES, timeout_seconds=1.0
    )
    with chat.start():
        yield chat


@pytest.fixture(autouse=True)
def _fresh_script(fake_model, server):
    fake_model.reset()
    server.service.model.url = fake_model.url
    server.service.speak_voice_replies = False


@pytest.fixture
def url(server):
    return server.url


def _db_rows(server, sql, *args):
    with sqlite3.connect(server.service.store.path) as db:
        return db.execute(sql, args).fetchall()


# === Conversations and answers ===


def test_a_new_conversation_is_empty_and_not_handed_off(url):
    response = requests.post(f"{url}/v1/conversations", timeout=10)
    assert response.status_code == 201
    created = response.json()
    assert created["channel"] == "chat"
    got = history(url, created["conversation_id"])
    assert got["turns"] == [] and got["events"] == []
    assert got["handoff"] == {"handed_off": False, "reason": None, "at": None}


def test_a_clear_text_turn_gets_the_knowledge_base_reply(url, fake_model):
    fake_model.script["my card has not arrived"] = prediction("card_arrival", 0.83, "negative")
    conversation = create(url)
    reply = send(url, conversation, text="  my card has not arrived ")
    assert reply["reply"] == KB.reply("card_arrival")
    assert reply["action"] == "answer"
    assert reply["intent"] == "card_arrival"
    assert reply["confidence"] == pytest.approx(0.83)
    assert reply["out_of_scope"] is False
    assert reply["sentiment"] == "negative"
    assert reply["turn_id"] == f"{conversation}-0" and reply["turn_index"] == 0
    assert reply["handoff"]["handed_off"] is False
    # The model got the stripped text and empty media, all five inputs present.
    assert fake_model.requests == [
        {
            "text": "my card has not arrived",
            "image": {"b64": ""},
            "audio": {"b64": ""},
            "transcript": "",
            "image_text": "",
        }
    ]
    assert history(url, conversation)["turns"][0]["reply"] == reply["reply"]


def test_unclear_twice_clarifies_then_hands_off_and_stays_with_a_person(url, server, fake_model):
    fake_model.script["hmm"] = prediction("pin_blocked", 0.2)
    fake_model.script["not sure"] = prediction("change_pin", 0.3)
    conversation = create(url)
    first = send(url, conversation, text="hmm")
    assert first["action"] == "clarify"
    assert first["reply"] == KB.clarifying_question("pin_blocked")
    assert first["handoff"]["handed_off"] is False
    second = send(url, conversation, text="not sure")
    assert second["action"] == "handoff"
    assert second["reply"] == KB.handoff["unclear"]
    assert second["handoff"]["handed_off"] is True
    assert second["handoff"]["reason"] == "unclear"
    third = send(url, conversation, text="my card has not arrived")  # clear, but too late
    assert third["action"] == "after_handoff"
    assert "take over" in third["reply"]

    got = history(url, conversation)
    assert [t["action"] for t in got["turns"]] == ["clarify", "handoff", "after_handoff"]
    assert [(e["type"], e["reason"], e["turn_id"]) for e in got["events"]] == [
        ("handoff", "unclear", f"{conversation}-1")
    ]
    # Recorded in SQLite, not only in memory.
    assert _db_rows(
        server,
        "SELECT handoff_reason, handed_off_at IS NOT NULL FROM conversations WHERE id=?",
        conversation,
    ) == [("unclear", 1)]


def test_asking_for_a_person_hands_off_at_once(url, server):
    conversation = create(url)
    reply = send(url, conversation, text="Can I speak to a human please")
    assert reply["action"] == "handoff"
    assert reply["handoff"]["reason"] == "customer_request"
    assert reply["reply"] == KB.handoff["customer_request"]
    assert _db_rows(
        server, "SELECT type, reason FROM events WHERE conversation_id=?", conversation
    ) == [("handoff", "customer_request")]


def test_negative_sentiment_in_two_of_three_turns_hands_off(url, fake_model):
    fake_model.script["this is useless"] = prediction("card_arrival", 0.9, "negative")
    fake_model.script["ok"] = prediction("card_arrival", 0.9, "neutral")
    conversation = create(url)
    assert send(url, conversation, text="this is useless")["action"] == "answer"
    assert send(url, conversation, text="ok")["action"] == "answer"
    reply = send(url, conversation, text="this is useless")
    assert reply["action"] == "handoff"
    assert reply["handoff"]["reason"] == "negative_sentiment"


def test_a_vague_turn_is_read_with_the_earlier_confident_turn(url, fake_model):
    fake_model.script["my card still has not come"] = prediction("card_arrival", 0.9)
    fake_model.script["how long then?"] = prediction("card_arrival", 0.25)
    conversation = create(url)
    send(url, conversation, text="my card still has not come")
    reply = send(url, conversation, text="how long then?")
    assert reply["action"] == "answer"
    assert reply["intent"] == "card_arrival"
    assert reply["context_turn_index"] == 0
    assert reply["confidence"] == pytest.approx(0.575)
    assert reply["model_confidence"] == pytest.approx(0.25)


# === Media ===


def test_pictures_and_audio_reach_the_model_as_png_or_jpeg_and_16khz_wav(url, fake_model):
    conversation = create(url)
    bmp = chat_support.png_bytes(image_format="BMP")
    flac = chat_support.audio_bytes(rate=44100, channels=2, audio_format="FLAC")
    reply = send(url, conversation, text="see this", image=b64(bmp), audio=b64(flac))
    assert reply["action"] == "answer"
    sent = fake_model.requests[-1]
    image = base64.b64decode(sent["image"]["b64"])
    assert image.startswith(b"\x89PNG")
    info = soundfile.info(io.BytesIO(base64.b64decode(sent["audio"]["b64"])))
    assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
    assert info.duration == pytest.approx(0.5, abs=0.01)
    turn = history(url, conversation)["turns"][0]
    assert turn["image"].endswith(".png") and turn["audio"].endswith(".wav")


def test_a_voice_message_reaches_the_model_with_its_transcript(url, fake_model):
    """The same speech recognizer as ingestion: the model gets the audio and what is said."""
    from components.log_example_gen.audio_normalization import normalize_audio
    from models import speech_recognition
    from tests.sample_run import SAMPLE

    line = next(
        json.loads(raw)
        for raw in (SAMPLE / "turns-00000.jsonl").read_bytes().splitlines()
        if json.loads(raw)["turn_id"] == "train-s00005-2"
    )
    clip = (SAMPLE / line["audio"]).read_bytes()  # an MP3 voice message
    conversation = create(url, channel="voice")
    send(url, conversation, audio=b64(clip), speak=False)
    wav, _ = normalize_audio(clip, line["audio"])
    recognizer = speech_recognition.shared_recognizer()
    expected = recognizer.transcribe(wav, features.DEFAULT_LANGUAGE)
    assert "cash deposit" in expected.lower()
    # One request, the turn once per n-best transcript: the first is the transcript.
    sent = fake_model.batches[-1]
    hypotheses = recognizer.hypotheses(wav, features.DEFAULT_LANGUAGE)
    assert len(sent) == len(hypotheses) >= 2
    assert sent[0][features.TRANSCRIPT_KEY] == expected == hypotheses[0].text
    assert [i[features.TRANSCRIPT_KEY] for i in sent[1:]] == [h.text for h in hypotheses[1:]]
    assert len({i[features.AUDIO_KEY]["b64"] for i in sent}) == 1
    # Text-only turns send an empty transcript.
    send(url, conversation, text="where is my card")
    assert fake_model.requests[-1][features.TRANSCRIPT_KEY] == ""


def test_a_picture_reaches_the_model_with_the_text_read_in_it(url, fake_model):
    """The same OCR as ingestion: the model gets the picture and the words written in it."""
    from components.log_example_gen.image_normalization import normalize_image
    from models import image_text_recognition
    from tests.sample_run import SAMPLE

    line = next(
        record
        for record in map(json.loads, (SAMPLE / "turns-00000.jsonl").read_bytes().splitlines())
        if record["image"] and record["intent"] not in (None, features.OUT_OF_SCOPE_INTENT)
    )
    picture = (SAMPLE / line["image"]).read_bytes()
    conversation = create(url)
    send(url, conversation, text="see attached", image=b64(picture))
    sent = fake_model.requests[-1]
    expected = image_text_recognition.shared_reader().read(normalize_image(picture, line["image"]))
    assert sent[features.IMAGE_TEXT_KEY] == expected
    assert len(expected.split()) >= 2
    # Turns without a picture send an empty image text.
    send(url, conversation, text="where is my card")
    assert fake_model.requests[-1][features.IMAGE_TEXT_KEY] == ""


def test_multipart_uploads_work_like_json(url, fake_model):
    conversation = create(url)
    response = requests.post(
        f"{url}/v1/conversations/{conversation}/messages",
        data={"text": "photo of my card", "speak": "false"},
        files={
            "image": ("card.jpg", chat_support.png_bytes(image_format="JPEG"), "image/jpeg"),
            "audio": ("voice.wav", chat_support.audio_bytes(audio_format="WAV"), "audio/wav"),
        },
        timeout=30,
    )
    assert response.status_code == 200, response.text
    sent = fake_model.requests[-1]
    assert sent["text"] == "photo of my card"
    assert base64.b64decode(sent["image"]["b64"]).startswith(b"\xff\xd8\xff")
    assert base64.b64decode(sent["audio"]["b64"]).startswith(b"RIFF")
    assert response.json()["turn_index"] == 0
    assert "reply_audio" not in response.json()


def test_an_image_only_turn_is_served(url, fake_model):
    conversation = create(url)
    reply = send(url, conversation, image=b64(chat_support.png_bytes()))
    assert reply["action"] == "answer"
    assert fake_model.requests[-1]["text"] == ""


def test_a_picture_too_thin_for_text_recognition_is_served_without_picture_text(url, fake_model):
    # 16 x 2048 is within ingestion's bounds, but RapidOCR's resize fails on it.
    conversation = create(url)
    reply = send(url, conversation, image=b64(chat_support.png_bytes((16, 2048))))
    assert reply["action"] == "answer"
    assert fake_model.requests[-1][features.IMAGE_TEXT_KEY] == ""


# === Spoken replies ===


def test_speak_true_returns_the_reply_as_wav(url):
    conversation = create(url)
    reply = send(url, conversation, text="where is my card", speak=True)
    wav = base64.b64decode(reply["reply_audio"]["b64"])
    info = soundfile.info(io.BytesIO(wav))
    assert info.duration > 1.0 and info.channels == 1


def test_the_speak_option_answers_voice_turns_aloud_only(url, server):
    server.service.speak_voice_replies = True
    conversation = create(url)
    assert "reply_audio" not in send(url, conversation, text="where is my card")
    voice = send(url, conversation, audio=b64(chat_support.audio_bytes(audio_format="WAV")))
    assert voice["reply_audio"]["b64"]
    assert "reply_audio" not in send(url, conversation, audio=b64(b"RIFF"), speak=False, expect=400)
    voice_channel = create(url, channel="voice")
    assert send(url, voice_channel, text="hello")["reply_audio"]["b64"]


# === Client mistakes: 4xx with a JSON message, nothing stored ===

BAD_BODIES = [
    ("malformed json", b'{"text": "hi"', "application/json", 400, "not valid JSON"),
    ("not an object", b'["hi"]', "application/json", 400, "JSON object"),
    ("text not a string", b'{"text": 5}', "application/json", 400, "'text' must be a string"),
    ("image wrong type", b'{"image": 5}', "application/json", 400, "'image' must be"),
    ("image wrong keys", b'{"image": {"data": "x"}}', "application/json", 400, "'image' must be"),
    ("invalid base64", b'{"audio": {"b64": "!!notbase64"}}', "application/json", 400, "base64"),
    ("speak not bool", b'{"text": "hi", "speak": "yes"}', "application/json", 400, "'speak'"),
    ("unknown field", b'{"txt": "hi"}', "application/json", 400, "unknown fields"),
    ("empty turn", b'{"text": "   "}', "application/json", 400, "needs 'text'"),
    ("too long", json.dumps({"text": "a" * 4001}).encode(), "application/json", 400, "4000"),
    (
        "undecodable image",
        json.dumps({"image": b64(b"GIF89a broken")}).encode(),
        "application/json",
        400,
        "undecodable_image",
    ),
    (
        "undecodable audio",
        json.dumps({"audio": b64(b"RIFF....WAVEfmt junk")}).encode(),
        "application/json",
        400,
        "undecodable_audio",
    ),
    (
        "picture thinner than the model can resize",
        json.dumps({"image": b64(chat_support.png_bytes((8, 4000)))}).encode(),
        "application/json",
        400,
        "200:1",
    ),
    # json.loads fails on these with errors other than JSONDecodeError (or not at all).
    ("integer too long", b'{"text": ' + b"1" * 5000 + b"}", "application/json", 400, "JSON"),
    (
        "nested too deeply",
        b'{"text": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        "application/json",
        400,
        "nested too deeply",
    ),
    ("unpaired surrogate", b'{"text": "hi \\ud800"}', "application/json", 400, "surrogate"),
    ("wrong content type", b"text=hi", "text/plain", 415, "Content-Type"),
    ("broken multipart", b"--x\r\nnothing", "multipart/form-data", 400, "multipart"),
]


@pytest.mark.parametrize(
    ("body", "content_type", "status", "message"),
    [case[1:] for case in BAD_BODIES],
    ids=[case[0] for case in BAD_BODIES],
)
def test_bad_messages_are_4xx_with_a_clear_message_and_store_nothing(
    url, fake_model, body, content_type, status, message
):
    conversation = create(url)
    response = requests.post(
        f"{url}/v1/conversations/{conversation}/messages",
        data=body,
        headers={"Content-Type": content_type},
        timeout=30,
    )
    assert response.status_code == status, response.text
    assert message in response.json()["error"]
    assert history(url, conversation)["turns"] == []
    assert fake_model.requests == []


def test_an_oversized_body_is_413(url):
    conversation = create(url)
    big = json.dumps({"text": "x", "image": b64(b"\0" * MAX_BODY_BYTES)})
    response = requests.post(
        f"{url}/v1/conversations/{conversation}/messages",
        data=big,
        timeout=30,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert "limit" in response.json()["error"]
    assert send(url, conversation, text="still here")["turn_index"] == 0


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("POST", "/v1/conversations/cnope/messages", 404),
        ("GET", "/v1/conversations/cnope", 404),
        ("GET", "/v1/conversations/bad%20id", 404),
        ("GET", "/v1/nothing", 404),
        ("DELETE", "/v1/conversations", 405),
        ("OPTIONS", "/v1/conversations", 405),
        ("GET", "/v1/conversations", 405),
        ("POST", "/healthz", 405),
    ],
)
def test_unknown_conversations_paths_and_methods_are_4xx(url, method, path, status):
    response = requests.request(method, url + path, json={"text": "hi"}, timeout=10)
    assert response.status_code == status
    assert response.json()["error"]


def test_a_bad_channel_is_rejected(url):
    response = requests.post(f"{url}/v1/conversations", json={"channel": "fax"}, timeout=10)
    assert response.status_code == 400
    assert "channel" in response.json()["error"]
    too_long = b'{"channel": ' + b"1" * 5000 + b"}"
    response = requests.post(f"{url}/v1/conversations", data=too_long, timeout=10)
    assert response.status_code == 400
    assert "JSON" in response.json()["error"]


def test_the_web_page_and_its_script_are_served(url):
    page = requests.get(url + "/", timeout=10)
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
    assert '<script src="/static/chat.js">' in page.text
    script = requests.get(url + "/static/chat.js", timeout=10)
    assert script.status_code == 200
    assert "/v1/conversations" in script.text
    assert requests.get(url + "/healthz", timeout=10).json() == {"status": "ok"}


# === Model server failures: a graceful reply, recorded, nothing lost ===


def _dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.mark.parametrize("failure", ["unreachable", "http_500", "timeout", "nonsense"])
def test_a_failing_model_server_gets_a_graceful_reply_and_is_recorded(
    url, server, fake_model, failure
):
    conversation = create(url)
    assert send(url, conversation, text="my card has not arrived")["action"] == "answer"
    if failure == "unreachable":
        server.service.model.url = _dead_url()
    elif failure == "http_500":
        fake_model.status = 500
    elif failure == "timeout":
        fake_model.delay_seconds = 1.5  # the client waits 1 s
    else:
        fake_model.default = {"intent": "not_a_label"}
    reply = send(url, conversation, text="hello?")
    assert reply["action"] == "model_unavailable"
    assert reply["reply"] == KB.model_unavailable
    assert reply["intent"] is None and reply["model_error"]
    assert reply["handoff"]["handed_off"] is False

    # The model is back: the conversation goes on where it was.
    fake_model.reset()
    server.service.model.url = fake_model.url
    after = send(url, conversation, text="my card has not arrived")
    assert after["action"] == "answer" and after["turn_index"] == 2
    got = history(url, conversation)
    assert [t["action"] for t in got["turns"]] == ["answer", "model_unavailable", "answer"]
    assert got["turns"][1]["text"] == "hello?"
    events = got["events"]
    assert [(e["type"], e["reason"], e["turn_id"]) for e in events] == [
        ("model_error", "model_unavailable", f"{conversation}-1")
    ]
    assert events[0]["detail"] == reply["model_error"]


# === Persistence across restarts ===


def test_conversations_survive_a_restart_of_the_service(server, fake_model, workdir, tmp_path):
    fake_model.script["my card has not arrived"] = prediction("card_arrival", 0.9)
    first = chat_support.build_server(str(tmp_path), fake_model.url)
    with first.start():
        conversation = create(first.url)
        send(first.url, conversation, text="my card has not arrived")
        send(first.url, conversation, text="get me an agent")
        before = history(first.url, conversation)
    second = chat_support.build_server(str(tmp_path), fake_model.url)
    with second.start():
        assert history(second.url, conversation) == before
        reply = send(second.url, conversation, text="my card has not arrived")
        assert reply["turn_index"] == 2
        assert reply["action"] == "after_handoff"  # the handoff survived too
        assert reply["handoff"] == before["handoff"]
        assert len(history(second.url, conversation)["turns"]) == 3


# === The traffic log: the raw log format, ingestible ===


def test_every_served_turn_is_logged_in_the_raw_log_format(url, server, fake_model):
    conversation = create(url)
    send(url, conversation, text="my card has not arrived")
    send(url, conversation, image=b64(chat_support.png_bytes(image_format="GIF")))
    send(url, conversation, text="listen", audio=b64(chat_support.audio_bytes()))
    fake_model.status = 503
    send(url, conversation, text="model down")
    log_dir = server.service.traffic_log.log_dir

    records = [
        (source, raw)
        for source, raw in chat_support.log_records(log_dir)
        if json.loads(raw)[features.SESSION_ID_KEY] == conversation
    ]
    assert len(records) == 4
    schema = schemas.raw_turn_schema()
    validator = jsonschema.validators.validator_for(schema)(
        schema, format_checker=jsonschema.FormatChecker()
    )
    for index, (source, raw) in enumerate(records):
        record = json.loads(raw)
        validator.validate(record)
        assert record[features.TURN_ID_KEY] == f"{conversation}-{index}"
        assert record[features.TURN_INDEX_KEY] == index
        assert record[features.CHANNEL_KEY] == "chat"
        assert features.INTENT_KEY not in record  # production turns are unlabelled
        assert record["chat"]["action"] in ("answer", "model_unavailable")
        # The real ingestion converts it, attachments included.
        turn = record_conversion.convert_record(
            source, log_dir, raw, record_conversion.IngestLimits()
        )
        assert turn.turn_id == record[features.TURN_ID_KEY]
    image_record, audio_record = json.loads(records[1][1]), json.loads(records[2][1])
    assert image_record[features.TEXT_KEY] is None
    assert image_record[features.IMAGE_KEY].startswith("attachments/")
    assert audio_record[features.AUDIO_KEY].endswith(".wav")
    assert json.loads(records[3][1])["chat"]["model_error"]


def test_concurrent_messages_to_one_conversation_are_served_one_at_a_time(url, fake_model):
    fake_model.delay_seconds = 0.05
    conversation = create(url)
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        replies = list(pool.map(lambda i: send(url, conversation, text=f"turn {i}"), range(6)))
    assert sorted(r["turn_index"] for r in replies) == list(range(6))
    assert len(history(url, conversation)["turns"]) == 6


def test_a_post_without_a_body_creates_a_conversation(server):
    # As `curl -X POST URL/v1/conversations` sends it: no Content-Length, no body.
    connection = http.client.HTTPConnection(server.host, server.port, timeout=10)
    connection.putrequest("POST", "/v1/conversations")
    connection.endheaders()
    response = connection.getresponse()
    assert response.status == 201
    assert json.loads(response.read())["conversation_id"].startswith("c")
    connection.close()
