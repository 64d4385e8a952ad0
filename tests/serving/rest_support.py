"""What the REST contract tests share: the server under test (a local ModelServer on the
pushed sample model, or a real TF Serving when MMCS_TF_SERVING_URL is set), an HTTP client,
and request payloads built from real turns of the embedded sample."""

import base64
import dataclasses
import functools
import http.client
import json
import os
import shutil
import socket
import urllib.parse

import numpy as np
import pytest

from models import features, signatures
from serving import batch_predict
from serving.model_server.server import ModelServer
from tests.sample_run import SAMPLE

TF_SERVING_URL_ENV = "MMCS_TF_SERVING_URL"
TF_SERVING_MODEL_ENV = "MMCS_TF_SERVING_MODEL"
INPUT_KEYS = features.SERVING_INPUT_KEYS
OUTPUT_KEYS = (
    signatures.INTENT_OUTPUT,
    signatures.INTENT_PROBABILITIES_OUTPUT,
    signatures.CONFIDENCE_OUTPUT,
    signatures.OUT_OF_SCOPE_OUTPUT,
    signatures.SENTIMENT_OUTPUT,
    signatures.SENTIMENT_PROBABILITIES_OUTPUT,
)
# The modality combinations every predict test covers, as batch_predict names them.
COMBINATIONS = ("text", "image", "audio", "image+audio+text")


def remote_url() -> str | None:
    """A real TF Serving to test instead of ModelServer (e.g. http://host:8501)."""
    return os.environ.get(TF_SERVING_URL_ENV) or None


needs_local_server = pytest.mark.skipif(
    remote_url() is not None, reason="needs control of a local ModelServer"
)


@dataclasses.dataclass
class Target:
    """The server under test."""

    url: str
    model_name: str
    server: ModelServer | None  # None for a remote TF Serving
    model_base: str | None

    @property
    def model_url(self) -> str:
        return f"{self.url}/v1/models/{self.model_name}"


def copy_model_base(model_base: str, destination: str) -> str:
    """A writable copy of a (read-only) model base directory."""
    shutil.copytree(model_base, destination)
    return destination


def serve(request, **server_args):
    """Yields a Target: the remote TF Serving, or a ModelServer on the pushed sample model."""
    if remote_url():
        yield Target(remote_url(), os.environ.get(TF_SERVING_MODEL_ENV, "mmcs"), None, None)
        return
    model_base = server_args.pop("model_base", None) or request.getfixturevalue("pushed_model_base")
    with ModelServer(model_base, **server_args).start() as server:
        yield Target(server.url, server.model_name, server, model_base)


# === HTTP ===


@dataclasses.dataclass
class Response:
    status: int
    body: bytes
    headers: dict

    def json(self):
        return json.loads(self.body)


def call(url: str, method: str = "GET", body=None, timeout: float = 120) -> Response:
    """One HTTP request on its own connection; `body` is bytes or JSON-able."""
    parts = urllib.parse.urlsplit(url)
    if body is not None and not isinstance(body, bytes):
        body = json.dumps(body).encode("utf-8")
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        connection.request(method, parts.path or "/", body=body, headers=headers)
        response = connection.getresponse()
        return Response(response.status, response.read(), dict(response.getheaders()))
    finally:
        connection.close()


def raw_exchange(url: str, request: bytes, timeout: float = 10) -> Response:
    """Sends bytes as they are (a request line http.client would refuse to write, a body
    framing it would not make) and reads the answer; a server that does not answer within
    `timeout` fails the test instead of hanging it."""
    parts = urllib.parse.urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        sock.sendall(request)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return Response(response.status, response.read(), dict(response.getheaders()))


# === Payloads from sample turns ===


@functools.cache
def sample_turns() -> tuple:
    turns, _ = batch_predict.turn_inputs(str(SAMPLE))
    return tuple(turns)


def turns_with(combination: str, count: int = 1) -> list:
    """The first `count` sample turns that have exactly the given modalities."""
    found = [turn for turn in sample_turns() if turn.modalities == combination][:count]
    assert len(found) == count, f"the sample has fewer than {count} {combination} turns"
    return found


def b64(data: bytes) -> dict:
    return {"b64": base64.b64encode(data).decode("ascii")}


def instance(turn) -> dict:
    """A row-format instance: text, transcript and image text as strings, attachments as
    base64 ("" when absent)."""
    values = turn.values
    return {
        features.TEXT_KEY: values[features.TEXT_KEY].decode("utf-8"),
        features.IMAGE_KEY: b64(values[features.IMAGE_KEY]) if values[features.IMAGE_KEY] else "",
        features.AUDIO_KEY: b64(values[features.AUDIO_KEY]) if values[features.AUDIO_KEY] else "",
        features.TRANSCRIPT_KEY: values[features.TRANSCRIPT_KEY].decode("utf-8"),
        features.IMAGE_TEXT_KEY: values[features.IMAGE_TEXT_KEY].decode("utf-8"),
    }


def columns(turns) -> dict:
    rows = [instance(turn) for turn in turns]
    return {key: [row[key] for row in rows] for key in INPUT_KEYS}


@functools.cache
def _predictor(model_base: str) -> batch_predict.Predictor:
    return batch_predict.Predictor(model_base)


def in_process_predictions(model_base: str, turn_ids: tuple) -> dict:
    """serving_default called in this process on the same turns: turn_id -> prediction."""
    by_id = {turn.turn_id: turn for turn in sample_turns()}
    predictions = _predictor(model_base).predict([by_id[t] for t in turn_ids])
    return {p["turn_id"]: p for p in predictions}


def assert_same_prediction(served: dict, expected: dict) -> None:
    """A served prediction equals the in-process one (floats to float32 rounding)."""
    assert set(served) == set(OUTPUT_KEYS)
    for key in (signatures.INTENT_OUTPUT, signatures.SENTIMENT_OUTPUT):
        assert served[key] == expected[key]
    assert served[signatures.OUT_OF_SCOPE_OUTPUT] is expected[signatures.OUT_OF_SCOPE_OUTPUT]
    for key in (
        signatures.CONFIDENCE_OUTPUT,
        signatures.INTENT_PROBABILITIES_OUTPUT,
        signatures.SENTIMENT_PROBABILITIES_OUTPUT,
    ):
        np.testing.assert_allclose(served[key], expected[key], rtol=1e-4, atol=1e-5)


def np_strings(values: list[bytes]) -> np.ndarray:
    """A [batch] string array as the model server passes inputs to a signature."""
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array
