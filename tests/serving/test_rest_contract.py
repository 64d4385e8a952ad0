"""TF Serving's REST contract over real HTTP: status, metadata, row and columnar predict for
every modality mix, version pinning, and a 4xx {"error": ...} for every client mistake.

Runs against ModelServer on the pushed sample model, or against a real TF Serving when
MMCS_TF_SERVING_URL is set (tests needing local control are skipped there).
"""

import json
import os

import numpy as np
import pytest

from models import features, signatures
from tests.serving import rest_support
from tests.serving.rest_support import COMBINATIONS, INPUT_KEYS, OUTPUT_KEYS, call

MAX_BODY_BYTES = 2 * 1024 * 1024
NUM_INTENTS = 78
NUM_SENTIMENTS = 3


@pytest.fixture(scope="module")
def target(request):
    yield from rest_support.serve(request, max_body_bytes=MAX_BODY_BYTES, poll_seconds=0)


def _served_version(target) -> str:
    statuses = call(target.model_url).json()["model_version_status"]
    available = [s["version"] for s in statuses if s["state"] == "AVAILABLE"]
    assert len(available) == 1, statuses
    return available[0]


def _predict(target, body, version: str | None = None):
    url = target.model_url + (f"/versions/{version}" if version else "") + ":predict"
    return call(url, "POST", body)


# === Status and metadata ===


def test_status_reports_the_newest_version_available(target):
    response = call(target.model_url)
    assert response.status == 200
    statuses = response.json()["model_version_status"]
    version = _served_version(target)
    assert version.isdigit()
    entry = next(s for s in statuses if s["version"] == version)
    assert entry == {
        "version": version,
        "state": "AVAILABLE",
        "status": {"error_code": "OK", "error_message": ""},
    }
    if target.model_base:  # the newest numbered directory
        assert int(version) == max(int(v) for v in os.listdir(target.model_base) if v.isdigit())
    pinned = call(f"{target.model_url}/versions/{version}")
    assert pinned.status == 200
    assert pinned.json() == {"model_version_status": [entry]}


def test_metadata_has_the_signature_defs_in_tf_serving_json(target):
    version = _served_version(target)
    for url in (f"{target.model_url}/metadata", f"{target.model_url}/versions/{version}/metadata"):
        response = call(url)
        assert response.status == 200
        metadata = response.json()
        assert metadata["model_spec"] == {
            "name": target.model_name,
            "signature_name": "",
            "version": version,
        }
        signature_defs = metadata["metadata"]["signature_def"]["signature_def"]
        assert {
            signatures.SERVING_DEFAULT,
            signatures.SERVING_TF_EXAMPLE,
            signatures.TRANSFORM_FEATURES,
        } <= set(signature_defs)
        serving = signature_defs[signatures.SERVING_DEFAULT]
        assert serving["method_name"] == "tensorflow/serving/predict"
        assert set(serving["inputs"]) == set(INPUT_KEYS)
        for key in INPUT_KEYS:
            tensor = serving["inputs"][key]
            assert tensor["dtype"] == "DT_STRING"
            assert tensor["tensor_shape"]["dim"][0]["size"] == "-1"
            assert tensor["name"] == f"serving_default_{key}:0"
        outputs = serving["outputs"]
        assert set(outputs) == set(OUTPUT_KEYS)
        assert outputs[signatures.INTENT_OUTPUT]["dtype"] == "DT_STRING"
        assert outputs[signatures.OUT_OF_SCOPE_OUTPUT]["dtype"] == "DT_BOOL"
        probabilities = outputs[signatures.INTENT_PROBABILITIES_OUTPUT]
        assert probabilities["dtype"] == "DT_FLOAT"
        assert [d["size"] for d in probabilities["tensor_shape"]["dim"]] == [
            "-1",
            str(NUM_INTENTS),
        ]


# === Predict ===


def _check_prediction_shape(prediction: dict) -> None:
    assert set(prediction) == set(OUTPUT_KEYS)
    assert isinstance(prediction[signatures.INTENT_OUTPUT], str)
    assert isinstance(prediction[signatures.OUT_OF_SCOPE_OUTPUT], bool)
    assert len(prediction[signatures.INTENT_PROBABILITIES_OUTPUT]) == NUM_INTENTS
    assert sum(prediction[signatures.INTENT_PROBABILITIES_OUTPUT]) == pytest.approx(1, abs=1e-4)
    assert len(prediction[signatures.SENTIMENT_PROBABILITIES_OUTPUT]) == NUM_SENTIMENTS
    assert prediction[signatures.SENTIMENT_OUTPUT] in ("negative", "neutral", "positive")
    assert 0 <= prediction[signatures.CONFIDENCE_OUTPUT] <= 1


@pytest.mark.parametrize("combination", COMBINATIONS)
def test_row_predict_answers_like_the_model_in_process(target, combination):
    turns = rest_support.turns_with(combination, count=2)
    response = _predict(target, {"instances": [rest_support.instance(t) for t in turns]})
    assert response.status == 200, response.body[:500]
    predictions = response.json()["predictions"]
    assert len(predictions) == len(turns)
    for prediction in predictions:
        _check_prediction_shape(prediction)
    if target.model_base:
        expected = rest_support.in_process_predictions(
            target.model_base, tuple(t.turn_id for t in turns)
        )
        for turn, prediction in zip(turns, predictions, strict=True):
            rest_support.assert_same_prediction(prediction, expected[turn.turn_id])


def test_columnar_predict_gives_the_row_answers_as_columns(target):
    turns = [rest_support.turns_with(c)[0] for c in COMBINATIONS]
    rows = _predict(target, {"instances": [rest_support.instance(t) for t in turns]})
    cols = _predict(
        target,
        {"signature_name": signatures.SERVING_DEFAULT, "inputs": rest_support.columns(turns)},
    )
    assert rows.status == 200 and cols.status == 200, cols.body[:500]
    outputs = cols.json()["outputs"]
    assert set(outputs) == set(OUTPUT_KEYS)
    for index, prediction in enumerate(rows.json()["predictions"]):
        for key in OUTPUT_KEYS:
            if isinstance(prediction[key], (str, bool)):
                assert outputs[key][index] == prediction[key]
            else:
                np.testing.assert_allclose(outputs[key][index], prediction[key], atol=1e-5)


def test_plain_strings_and_base64_are_the_same_text(target):
    text = rest_support.turns_with("text")[0].values[features.TEXT_KEY]
    plain = {key: "" for key in features.SERVING_INPUT_KEYS} | {features.TEXT_KEY: text.decode()}
    encoded = {**plain, features.TEXT_KEY: rest_support.b64(text)}
    response = _predict(target, {"instances": [plain, encoded]})
    assert response.status == 200
    first, second = response.json()["predictions"]
    assert first[signatures.INTENT_OUTPUT] == second[signatures.INTENT_OUTPUT]
    np.testing.assert_allclose(
        first[signatures.INTENT_PROBABILITIES_OUTPUT],
        second[signatures.INTENT_PROBABILITIES_OUTPUT],
        atol=1e-6,
    )


def test_version_pinned_predict(target):
    version = _served_version(target)
    body = {"instances": [rest_support.instance(rest_support.turns_with("text")[0])]}
    response = _predict(target, body, version=version)
    assert response.status == 200
    _check_prediction_shape(response.json()["predictions"][0])
    missing = _predict(target, body, version=str(int(version) + 1000))
    assert missing.status == 404
    assert missing.json()["error"]


# === Client mistakes: 4xx with an error message, and the server keeps serving ===


def _good() -> dict:
    return rest_support.instance(rest_support.turns_with("image+audio+text")[0])


BAD_PREDICT_BODIES = {
    "malformed_json": (b'{"instances": [', 400),
    "not_an_object": (b"[1, 2, 3]", 400),
    "no_instances_or_inputs": ({"signature_name": signatures.SERVING_DEFAULT}, 400),
    "both_instances_and_inputs": (
        lambda: {"instances": [_good()], "inputs": rest_support.columns([])},
        400,
    ),
    "text_not_a_string": (lambda: {"instances": [{**_good(), features.TEXT_KEY: 5}]}, 400),
    "image_not_bytes": (lambda: {"instances": [{**_good(), features.IMAGE_KEY: [1.5]}]}, 400),
    "bad_base64": (lambda: {"instances": [{**_good(), features.AUDIO_KEY: {"b64": "@@@"}}]}, 400),
    "missing_input": (
        lambda: {"instances": [{features.TEXT_KEY: "my card was declined"}]},
        400,
    ),
    "unknown_input": (lambda: {"instances": [{**_good(), "video": "clip"}]}, 400),
    "unknown_signature": (lambda: {"signature_name": "nope", "instances": [_good()]}, 400),
    "mismatched_batch_sizes": (
        {
            "inputs": {
                features.TEXT_KEY: ["one", "two"],
                features.IMAGE_KEY: [""],
                features.AUDIO_KEY: ["", ""],
                features.TRANSCRIPT_KEY: ["", ""],
                features.IMAGE_TEXT_KEY: ["", ""],
            }
        },
        400,
    ),
    "inconsistent_instances": (
        lambda: {"instances": [_good(), {features.TEXT_KEY: "only text"}]},
        400,
    ),
    # json.loads fails on these with errors other than JSONDecodeError (or not at all).
    "integer_too_long": (b'{"instances": [' + b"1" * 5000 + b"]}", 400),
    "nested_too_deeply": (b'{"instances": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", 400),
    "unpaired_surrogate": (
        lambda: json.dumps({"instances": [{**_good(), features.TEXT_KEY: "hi \ud800"}]}).encode(),
        400,
    ),
    "undecodable_image_in_graph": (
        lambda: {"instances": [{**_good(), features.IMAGE_KEY: rest_support.b64(b"no picture")}]},
        400,
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_PREDICT_BODIES))
def test_bad_predict_request_is_a_4xx_with_an_error(target, case):
    body, status = BAD_PREDICT_BODIES[case]
    response = _predict(target, body() if callable(body) else body)
    assert response.status == status, response.body[:300]
    error = response.json()["error"]
    assert isinstance(error, str) and error
    assert _predict(target, {"instances": [_good()]}).status == 200  # still serving


def test_error_messages_name_what_is_wrong(target):
    missing = _predict(target, {"instances": [{features.TEXT_KEY: "hello"}]}).json()["error"]
    assert features.IMAGE_KEY in missing and features.AUDIO_KEY in missing
    unknown = _predict(target, {"signature_name": "nope", "instances": [_good()]}).json()
    assert "nope" in unknown["error"]
    bad_b64 = _predict(target, {"instances": [{**_good(), features.IMAGE_KEY: {"b64": "@@"}}]})
    assert "base64" in bad_b64.json()["error"]


def test_unknown_model_and_version_are_404(target):
    body = {"instances": [_good()]}
    for url in (
        f"{target.url}/v1/models/no_such_model:predict",
        f"{target.model_url}/versions/1:predict",
    ):
        response = call(url, "POST", body)
        assert response.status == 404
        assert response.json()["error"]
    assert call(f"{target.url}/v1/models/no_such_model").status == 404
    assert call(f"{target.model_url}/versions/1").status == 404


@pytest.mark.parametrize(
    ("method", "path", "local_status"),
    [
        ("GET", "/v1/models/{name}:predict", 405),
        ("DELETE", "/v1/models/{name}", 405),
        ("OPTIONS", "/v1/models/{name}", 405),
        ("POST", "/v1/models/{name}/metadata", 405),
        ("GET", "/v1/no/such/path", 404),
        ("GET", "/not-an-api", 404),
    ],
)
def test_unknown_paths_and_methods_are_4xx(target, method, path, local_status):
    response = call(target.url + path.format(name=target.model_name), method)
    if target.server is None:
        assert 400 <= response.status < 500  # TF Serving answers 400 or 404 here
    else:
        assert response.status == local_status
        assert response.json()["error"]


@pytest.mark.parametrize("version", ["\u00b2", "1" * 5000, "-1", "1e3"])
def test_a_version_that_is_no_int64_is_a_4xx(target, version):
    # "\u00b2" (superscript two) arrives as one raw byte: str.isdigit takes it, int() not.
    path = f"/v1/models/{target.model_name}/versions/{version}".encode("latin-1")
    response = rest_support.raw_exchange(
        target.url, b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert 400 <= response.status < 500
    if target.server is not None:
        assert response.status == 400
        assert "Invalid version" in response.json()["error"]


@rest_support.needs_local_server
@pytest.mark.parametrize("size", [b"-5", b"-1", b"+5", b"5_0", b""])
def test_chunked_body_with_a_bad_chunk_size_is_400_not_a_hang(target, size):
    for path in (
        f"/v1/models/{target.model_name}:predict",
        f"/v1/models/{target.model_name}/metadata",
    ):
        request = (
            f"POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
            + size
            + b"\r\nabcde\r\n0\r\n\r\n"
        )
        response = rest_support.raw_exchange(target.url, request)
        assert response.status == (400 if path.endswith(":predict") else 405), response.body
        assert response.headers.get("Connection") == "close"
    assert _predict(target, {"instances": [_good()]}).status == 200


@rest_support.needs_local_server
def test_head_is_a_get_without_its_body(target):
    got = call(target.model_url)
    head = call(target.model_url, "HEAD")
    assert head.status == got.status == 200
    assert head.body == b""
    assert head.headers["Content-Length"] == got.headers["Content-Length"]


@rest_support.needs_local_server
def test_oversized_body_is_413_and_the_server_serves_on(target):
    padding = "x" * (MAX_BODY_BYTES + 1)
    response = _predict(target, json.dumps({"instances": [{"text": padding}]}).encode())
    assert response.status == 413
    assert "limit" in response.json()["error"]
    assert _predict(target, {"instances": [_good()]}).status == 200


@rest_support.needs_local_server
def test_no_client_mistake_was_a_server_error(target):
    metrics = call(f"{target.url}/monitoring/prometheus/metrics")
    assert metrics.status == 200
    lines = metrics.body.decode().splitlines()
    counts = [line for line in lines if line.startswith(":tensorflow:serving:request_count")]
    assert any('status="400"' in line for line in counts)
    assert any('api="predict",status="200"' in line for line in counts)
    assert not any('status="500"' in line for line in counts), counts
