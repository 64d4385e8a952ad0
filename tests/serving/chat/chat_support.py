"""What the chat service tests share: building a service and server, media, the HTTP client."""

import base64
import io
import json
import os

import numpy as np
import requests
import soundfile
from PIL import Image

from serving.chat import app, conversations, knowledge_base, model_client, service, traffic_log
from serving.chat.dialogue_policy import DEFAULT_POLICY, PolicyConfig


def build_server(
    tmp_dir: str,
    model_url: str,
    policy: PolicyConfig = DEFAULT_POLICY,
    max_body_bytes: int = app.DEFAULT_MAX_BODY_BYTES,
    timeout_seconds: float = 10.0,
) -> app.ChatServer:
    """A ChatServer (not started) on `tmp_dir`/chat.sqlite and `tmp_dir`/logs."""
    chat_service = service.ChatService(
        conversations.ConversationStore(os.path.join(tmp_dir, "chat.sqlite")),
        model_client.ModelClient(model_url, timeout_seconds=timeout_seconds),
        knowledge_base.load(),
        traffic_log.TrafficLog(os.path.join(tmp_dir, "logs")),
        policy=policy,
    )
    return app.ChatServer(chat_service, max_body_bytes=max_body_bytes)


def png_bytes(size=(64, 48), color=(200, 30, 30), image_format="PNG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format=image_format)
    return out.getvalue()


def audio_bytes(seconds=0.5, rate=44100, channels=2, audio_format="FLAC") -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    tone = 0.3 * np.sin(2 * np.pi * 440 * t)
    out = io.BytesIO()
    soundfile.write(out, np.stack([tone] * channels, axis=1), rate, format=audio_format)
    return out.getvalue()


def b64(data: bytes) -> dict:
    return {"b64": base64.b64encode(data).decode("ascii")}


def create(url: str, channel: str | None = None) -> str:
    response = requests.post(
        f"{url}/v1/conversations", json={"channel": channel} if channel else {}, timeout=30
    )
    assert response.status_code == 201, response.text
    return response.json()["conversation_id"]


def send(url: str, conversation_id: str, expect: int = 200, **fields) -> dict:
    response = requests.post(
        f"{url}/v1/conversations/{conversation_id}/messages", json=fields, timeout=60
    )
    assert response.status_code == expect, response.text
    return response.json()


def history(url: str, conversation_id: str) -> dict:
    response = requests.get(f"{url}/v1/conversations/{conversation_id}", timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def log_records(log_dir: str) -> list[tuple[str, bytes]]:
    """(source, raw line) of every record in the traffic log folder."""
    records = []
    for name in sorted(os.listdir(log_dir)):
        if name.endswith(".jsonl"):
            with open(os.path.join(log_dir, name), "rb") as f:
                for number, line in enumerate(f, start=1):
                    records.append((f"{name}:{number}", line.rstrip(b"\n")))
    return records


def parsed_log(log_dir: str) -> list[dict]:
    return [json.loads(raw) for _, raw in log_records(log_dir)]
