"""`mmcs chat-server` as a process: it serves, stops on SIGTERM, and refuses a bad KB."""

import copy
import os
import re
import signal
import subprocess
import sys

import requests
import yaml

from serving.chat import knowledge_base
from tests.serving.chat.fake_model import FakeModelServer

_MMCS = [sys.executable, "-c", "import sys; from pipeline.cli import main; sys.exit(main())"]


def _args(tmp_path, *extra) -> list[str]:
    return [
        *_MMCS, "chat-server", "--port", "0",
        "--db", str(tmp_path / "chat.sqlite"), "--log-dir", str(tmp_path / "logs"), *extra,
    ]  # fmt: skip


def test_the_command_serves_until_sigterm(tmp_path):
    from models import derived_text_versions

    # The served model's newest version learned this host's recognizers' texts; an older
    # one did not, and is not checked.
    base = tmp_path / "serving" / "mmcs"
    assets = derived_text_versions.SAVED_MODEL_ASSETS
    derived_text_versions.write(str(base / "1" / assets), "speech=whisper-tiny")
    derived_text_versions.write(str(base / "2" / assets), derived_text_versions.installed())
    with FakeModelServer() as fake:
        process = subprocess.Popen(
            _args(tmp_path, "--model-url", fake.url, "--speak", "--model-base", str(base)),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            line = process.stdout.readline()
            match = re.match(r"chat service at (http://127\.0\.0\.1:\d+) ", line)
            assert match, line
            url = match.group(1)
            created = requests.post(f"{url}/v1/conversations", json={}, timeout=10).json()
            reply = requests.post(
                f"{url}/v1/conversations/{created['conversation_id']}/messages",
                json={"text": "where is my card"},
                timeout=30,
            ).json()
            assert reply["action"] == "answer" and reply["intent"] == "card_arrival"
            assert fake.requests[0]["text"] == "where is my card"
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0
    assert os.path.exists(tmp_path / "chat.sqlite")
    assert [n for n in os.listdir(tmp_path / "logs") if n.endswith(".jsonl")]


def test_the_command_refuses_to_start_with_a_bad_knowledge_base(tmp_path):
    with open(knowledge_base.DEFAULT_PATH, encoding="utf-8") as f:
        data = copy.deepcopy(yaml.safe_load(f))
    data["intents"].pop("pin_blocked")
    path = tmp_path / "kb.yaml"
    path.write_text(yaml.safe_dump(data))
    result = subprocess.run(
        _args(tmp_path, "--knowledge-base", str(path)),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "mmcs chat-server: bad knowledge base" in result.stderr
    assert "pin_blocked" in result.stderr


def test_the_command_refuses_a_model_trained_on_other_recognizers(tmp_path):
    from models import derived_text_versions

    base = tmp_path / "serving" / "mmcs"
    derived_text_versions.write(
        str(base / "3" / derived_text_versions.SAVED_MODEL_ASSETS),
        "speech=whisper-tiny-0.9-int8-beam1;image_text=rapidocr-0.1-clean0",
    )
    derived_text_versions.write(
        str(base / "12" / derived_text_versions.SAVED_MODEL_ASSETS), "speech=whisper-tiny"
    )
    result = _run(tmp_path, "--model-base", str(base))
    assert result.returncode == 2, result.stderr
    assert "mmcs chat-server: " in result.stderr
    assert "12 was trained on transcripts and picture texts of 'speech=whisper-tiny'" in (
        result.stderr
    )
    result = _run(tmp_path, "--model-base", str(tmp_path / "missing"))
    assert result.returncode == 2
    assert "is not a directory" in result.stderr


def _run(tmp_path, *extra) -> subprocess.CompletedProcess:
    return subprocess.run(
        _args(tmp_path, *extra), capture_output=True, text=True, timeout=120, check=False
    )
