"""The web chat page in headless Chromium (Playwright, Debian's chromium): text, a picture,
a voice file and a recording, with the reply, intent, confidence and handoff shown."""

import os
import re
import shutil

import pytest

import schemas
from tests.sample_run import SAMPLE
from tests.serving import rest_support
from tests.serving.chat import chat_support
from tests.serving.chat.chat_support import history

CHROMIUM = "/usr/bin/chromium"

pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM),
    reason=f"{CHROMIUM} is not installed (Debian chromium; `make setup` installs it as root)",
)
INTENT_TEXT = re.compile(r"^intent: (\S+)$")
CONFIDENCE_TEXT = re.compile(r"^confidence: \d{1,3}\.\d %$")


@pytest.fixture(scope="module")
def model(request):
    yield from rest_support.serve(request, poll_seconds=0)


@pytest.fixture(scope="module")
def server(model, tmp_path_factory):
    chat = chat_support.build_server(str(tmp_path_factory.mktemp("chat-web")), model.url)
    chat.service.model.model_name = model.model_name
    with chat.start():
        yield chat


@pytest.fixture(scope="module")
def page(server):
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",  # CI runs as root
                # A fake microphone (a beep) that needs no permission prompt.
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
            ],
        )
        context = browser.new_context()
        context.grant_permissions(["microphone"], origin=server.url)
        page = context.new_page()
        page.set_default_timeout(60_000)
        yield page
        browser.close()


def _open(page, server) -> None:
    page.goto(server.url + "/")
    page.wait_for_function("document.body.dataset.ready === 'true'")
    assert page.inner_text("#conversation-id")


def _new_conversation(page) -> None:
    old = page.inner_text("#conversation-id")
    page.click("#new-conversation")
    page.wait_for_function(
        "old => document.getElementById('conversation-id').textContent !== old", arg=old
    )
    assert page.locator("#messages .reply").count() == 0


def _sample_file(extension: str) -> str:
    names = sorted(os.listdir(SAMPLE / "attachments"))
    return str(SAMPLE / "attachments" / next(n for n in names if n.endswith(extension)))


def _send_and_read_reply(page, count: int) -> dict:
    page.click("#send")
    page.wait_for_function(
        "n => document.querySelectorAll('#messages .reply').length >= n", arg=count
    )
    reply = page.locator("#messages .reply").nth(count - 1)
    return {
        "turn_id": reply.get_attribute("data-turn-id"),
        "text": reply.locator(".reply-text").inner_text(),
        "intent": reply.locator(".intent").inner_text(),
        "confidence": reply.locator(".confidence").inner_text(),
        "handoff": reply.locator(".handoff").inner_text(),
    }


def _check_meta(shown: dict) -> None:
    intent = INTENT_TEXT.match(shown["intent"])
    assert intent and intent.group(1) in schemas.intent_labels(), shown
    assert CONFIDENCE_TEXT.match(shown["confidence"]), shown
    assert shown["handoff"] == "handoff: no" or shown["handoff"].startswith("handoff: yes (")
    assert shown["text"]


def test_the_page_sends_text_pictures_voice_files_and_recordings(page, server, tmp_path):
    _open(page, server)
    conversation = page.inner_text("#conversation-id")
    assert page.inner_text("#handoff-state") == "Assistant"

    page.fill("#text", "I am still waiting on my card?")
    shown = [_send_and_read_reply(page, 1)]

    picture = tmp_path / "screenshot.webp"
    shutil.copy(_sample_file(".webp"), picture)
    page.fill("#text", "see the screenshot")
    page.set_input_files("#image", str(picture))
    shown.append(_send_and_read_reply(page, 2))

    page.set_input_files("#audio", _sample_file(".ogg"))
    shown.append(_send_and_read_reply(page, 3))

    page.click("#record")
    page.wait_for_timeout(1200)
    page.click("#record")
    assert "recorded" in page.inner_text("#recording-state")
    shown.append(_send_and_read_reply(page, 4))

    for item in shown:
        _check_meta(item)
    assert page.inner_text("#error") == ""

    # What the page shows is what the service decided and stored.
    turns = history(server.url, conversation)["turns"]
    assert [t["turn_id"] for t in turns] == [s["turn_id"] for s in shown]
    for turn, item in zip(turns, shown, strict=True):
        assert item["text"] == turn["reply"]
        assert item["intent"] == f"intent: {turn['intent'] or turn['model_intent']}"
    assert [t["image"] is not None for t in turns] == [False, True, False, False]
    assert [t["audio"] is not None for t in turns] == [False, False, True, True]
    assert turns[3]["audio"].endswith(".wav")  # the page recorded WAV itself


def test_the_page_shows_a_handoff(page, server):
    _open(page, server)
    _new_conversation(page)
    page.fill("#text", "hello")
    assert _send_and_read_reply(page, 1)["handoff"] == "handoff: no"
    page.fill("#text", "I want to talk to a human")
    shown = _send_and_read_reply(page, 2)
    assert shown["handoff"] == "handoff: yes (customer request)"
    state = page.locator("#handoff-state")
    assert state.get_attribute("data-handed-off") == "true"
    assert "Handed off to a person" in state.inner_text()

    # A reload resumes the conversation from the server, handoff state included.
    conversation = page.inner_text("#conversation-id")
    _open(page, server)
    assert page.inner_text("#conversation-id") == conversation
    replies = page.locator("#messages .reply")
    assert replies.count() == 2
    assert replies.nth(1).locator(".handoff").inner_text() == shown["handoff"]
    assert page.locator("#handoff-state").get_attribute("data-handed-off") == "true"


def test_the_page_shows_a_clear_error_for_a_broken_upload(page, server, tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG not really")
    _open(page, server)
    _new_conversation(page)
    page.set_input_files("#image", str(broken))
    page.click("#send")
    page.wait_for_function("document.getElementById('error').textContent !== ''")
    assert "undecodable_image" in page.inner_text("#error")
