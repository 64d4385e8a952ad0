"""Hot reload: a version pushed while the server runs is loaded and served without a failed
request; half-written or broken version directories are never served."""

import os
import shutil
import threading
import time

import pytest

from models import features, signatures
from tests.serving import rest_support
from tests.serving.rest_support import call

pytestmark = rest_support.needs_local_server

POLL_SECONDS = 0.2
SWITCH_TIMEOUT_S = 180
CLIENT_THREADS = 3


@pytest.fixture(scope="module")
def reloading(request, tmp_path_factory):
    base = rest_support.copy_model_base(
        request.getfixturevalue("pushed_model_base"), str(tmp_path_factory.mktemp("hot") / "m")
    )
    yield from rest_support.serve(request, model_base=base, poll_seconds=POLL_SECONDS)


def _statuses(target) -> dict:
    response = call(target.model_url)
    assert response.status == 200
    return {int(s["version"]): s for s in response.json()["model_version_status"]}


def _available(target) -> list[int]:
    return [v for v, s in _statuses(target).items() if s["state"] == "AVAILABLE"]


def _wait_for(condition, timeout: float = SWITCH_TIMEOUT_S):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"not reached within {timeout} s")


def _versions_on_disk(base: str) -> list[int]:
    return sorted(int(v) for v in os.listdir(base) if v.isdigit())


def test_new_version_is_served_without_a_failed_request(reloading):
    base = reloading.model_base
    (old,) = _available(reloading)
    new = old + 1
    body = {"instances": [rest_support.instance(rest_support.turns_with("image+audio+text")[0])]}
    failures, answered, stop = [], [], threading.Event()

    def client():
        while not stop.is_set():
            try:
                response = call(reloading.model_url + ":predict", "POST", body)
            except OSError as error:
                failures.append(repr(error))
                continue
            if response.status != 200:
                failures.append((response.status, response.body[:200]))
            else:
                answered.append(time.monotonic())

    clients = [threading.Thread(target=client) for _ in range(CLIENT_THREADS)]
    for thread in clients:
        thread.start()
    try:
        _wait_for(lambda: len(answered) >= CLIENT_THREADS)
        # Copied file by file, as a push to a shared file system would arrive.
        shutil.copytree(os.path.join(base, str(old)), os.path.join(base, str(new)))
        _wait_for(lambda: _available(reloading) == [new])
        switched_at, served_before = time.monotonic(), len(answered)
        _wait_for(lambda: len(answered) >= served_before + CLIENT_THREADS)
    finally:
        stop.set()
        for thread in clients:
            thread.join()
    assert failures == []
    assert any(t > switched_at for t in answered)
    # The old version unloads once its in-flight requests are done.
    _wait_for(lambda: _statuses(reloading)[old]["state"] == "END", timeout=30)
    assert _statuses(reloading)[old]["status"]["error_code"] == "OK"
    assert reloading.server.versions.current_version == new


def test_in_flight_request_keeps_the_old_version_loaded(reloading):
    base = reloading.model_base
    (old,) = _available(reloading)
    new = old + 1
    with reloading.server.versions.lease() as servable:  # a request still running on `old`
        shutil.copytree(os.path.join(base, str(old)), os.path.join(base, str(new)))
        _wait_for(lambda: _available(reloading) == [new])
        assert _statuses(reloading)[old]["state"] == "UNLOADING"
        inputs = {key: rest_support.np_strings([b""]) for key in rest_support.INPUT_KEYS}
        inputs[features.TEXT_KEY] = rest_support.np_strings([b"card declined"])
        outputs = servable.predict(signatures.SERVING_DEFAULT, inputs)  # still callable
        assert len(outputs[signatures.INTENT_OUTPUT]) == 1
    assert _statuses(reloading)[old]["state"] == "END"


def test_half_written_version_is_not_served(reloading):
    base = reloading.model_base
    (serving,) = _available(reloading)
    source = os.path.join(base, str(serving))
    # No saved_model.pb yet: not a version at all.
    partial = os.path.join(base, str(serving + 10))
    shutil.copytree(os.path.join(source, "variables"), os.path.join(partial, "variables"))
    # A saved_model.pb cut short: fails to load, reported, never served.
    broken = os.path.join(base, str(serving + 20))
    shutil.copytree(source, broken)
    with open(os.path.join(broken, "saved_model.pb"), "r+b") as file:
        file.truncate(4096)
    _wait_for(lambda: serving + 20 in _statuses(reloading), timeout=60)
    _wait_for(lambda: _statuses(reloading)[serving + 20]["state"] == "END", timeout=60)
    time.sleep(5 * POLL_SECONDS)
    statuses = _statuses(reloading)
    assert _available(reloading) == [serving]
    assert serving + 10 not in statuses
    assert statuses[serving + 20]["status"]["error_code"] != "OK"
    assert statuses[serving + 20]["status"]["error_message"]
    body = {"instances": [rest_support.instance(rest_support.turns_with("text")[0])]}
    assert call(reloading.model_url + ":predict", "POST", body).status == 200
    assert _versions_on_disk(base)[-1] == serving + 20  # newer on disk, yet not served
