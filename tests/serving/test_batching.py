"""Server-side batching: concurrent requests are merged into fewer model calls and get the
same answers as unbatched ones; a bad request does not fail those merged with it."""

import threading

import numpy as np
import pytest

from models import features
from serving.model_server.batching import Batcher, BatchingOptions
from tests.serving import rest_support
from tests.serving.rest_support import call

CONCURRENT_REQUESTS = 8
# A long timeout makes merging deterministic: requests released together share a batch.
BATCHING = BatchingOptions(max_batch_size=CONCURRENT_REQUESTS, batch_timeout_micros=500_000)


@pytest.fixture(scope="module")
def batched(request):
    yield from rest_support.serve(request, batching=BATCHING, poll_seconds=0)


def _concurrently(target, bodies: list) -> list:
    """Posts every body at the same moment, one thread each; the responses in order."""
    barrier = threading.Barrier(len(bodies))
    responses = [None] * len(bodies)

    def post(index):
        barrier.wait()
        responses[index] = call(target.model_url + ":predict", "POST", bodies[index])

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return responses


def _mixed_turns() -> list:
    per_combination = CONCURRENT_REQUESTS // len(rest_support.COMBINATIONS)
    return [
        turn
        for combination in rest_support.COMBINATIONS
        for turn in rest_support.turns_with(combination, count=per_combination)
    ]


def test_concurrent_requests_are_merged_and_answered_as_unbatched(batched):
    turns = _mixed_turns()
    calls_before = batched.server.model_calls if batched.server else None
    responses = _concurrently(batched, [{"instances": [rest_support.instance(t)]} for t in turns])
    assert [r.status for r in responses] == [200] * len(turns)
    if batched.server is None:
        return  # a remote TF Serving: answers checked, model calls not observable
    model_calls = batched.server.model_calls - calls_before
    assert model_calls <= len(turns) // 2, f"{len(turns)} requests took {model_calls} calls"
    expected = rest_support.in_process_predictions(
        batched.model_base, tuple(t.turn_id for t in turns)
    )
    for turn, response in zip(turns, responses, strict=True):
        (prediction,) = response.json()["predictions"]
        rest_support.assert_same_prediction(prediction, expected[turn.turn_id])


def test_multi_row_requests_are_split_back_in_order(batched):
    turns = _mixed_turns()
    halves = [turns[: len(turns) // 2], turns[len(turns) // 2 :]]
    bodies = [{"instances": [rest_support.instance(t) for t in half]} for half in halves]
    responses = _concurrently(batched, bodies)
    for half, response in zip(halves, responses, strict=True):
        assert response.status == 200
        predictions = response.json()["predictions"]
        assert len(predictions) == len(half)
        if batched.model_base:
            expected = rest_support.in_process_predictions(
                batched.model_base, tuple(t.turn_id for t in half)
            )
            for turn, prediction in zip(half, predictions, strict=True):
                rest_support.assert_same_prediction(prediction, expected[turn.turn_id])


def test_a_bad_request_fails_alone_in_a_merged_batch(batched):
    good = rest_support.instance(rest_support.turns_with("image+audio+text")[0])
    bad = {**good, features.IMAGE_KEY: rest_support.b64(b"not a picture")}
    bodies = [{"instances": [good]}] * 3 + [{"instances": [bad]}]
    responses = _concurrently(batched, bodies)
    assert [r.status for r in responses] == [200, 200, 200, 400]
    assert "image" in responses[-1].json()["error"].lower()
    answers = {r.json()["predictions"][0]["intent"] for r in responses[:3]}
    assert len(answers) == 1


def test_batcher_merges_up_to_max_batch_size_and_splits_rows_back():
    calls = []

    def double(inputs):
        calls.append(len(inputs["x"]))
        return {"y": inputs["x"] * 2, "n": np.full(len(inputs["x"]), len(inputs["x"]))}

    batcher = Batcher(double, BatchingOptions(max_batch_size=4, batch_timeout_micros=300_000))
    barrier, results = threading.Barrier(6), {}

    def run(value):
        barrier.wait()
        results[value] = batcher.call({"x": np.array([value, value + 100])})

    threads = [threading.Thread(target=run, args=(v,)) for v in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    batcher.close()
    for value, outputs in results.items():
        np.testing.assert_array_equal(outputs["y"], [2 * value, 2 * value + 200])
    assert sum(calls) == 12
    assert max(calls) <= 4 and len(calls) == 3  # 6 requests of 2 rows, 2 per call


def test_batching_options_are_checked():
    with pytest.raises(ValueError, match="max_batch_size"):
        BatchingOptions(max_batch_size=0)
    with pytest.raises(ValueError, match="batch_timeout_micros"):
        BatchingOptions(batch_timeout_micros=-1)
