"""Server-side batching like TF Serving's `--enable_batching`: concurrent predict calls for
the same version and signature are merged into one model call, then split back."""

import dataclasses
import threading
import time
from collections.abc import Callable

import numpy as np


@dataclasses.dataclass(frozen=True)
class BatchingOptions:
    """The two batching parameters that matter on a small CPU host (as in
    serving/deploy/batching_parameters.txt, which holds the values the load benchmark chose).

    max_batch_size: most rows merged into one model call.
    batch_timeout_micros: how long the first queued request waits for others to join.
    """

    max_batch_size: int = 16
    batch_timeout_micros: int = 2000

    def __post_init__(self):
        if self.max_batch_size < 1:
            raise ValueError(f"max_batch_size must be at least 1, got {self.max_batch_size}")
        if self.batch_timeout_micros < 0:
            raise ValueError(
                f"batch_timeout_micros must be 0 or more, got {self.batch_timeout_micros}"
            )


class _Task:
    """One request's inputs, waiting for its rows of the merged outputs."""

    def __init__(self, inputs: dict[str, np.ndarray], rows: int):
        self.inputs = inputs
        self.rows = rows
        self.enqueued = time.monotonic()
        self.done = threading.Event()
        self.outputs: dict[str, np.ndarray] | None = None
        self.error: BaseException | None = None


class Batcher:
    """Merges concurrent calls of one model function (inputs and outputs batched on axis 0).

    One scheduling thread forms batches: the oldest queued request waits up to the timeout for
    others, or less when max_batch_size rows are queued; while a batch runs, new requests
    queue up and form the next batch as soon as the model is free.
    """

    def __init__(
        self,
        run: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]],
        options: BatchingOptions,
        name: str = "batcher",
    ):
        self._run = run
        self._options = options
        self._queue: list[_Task] = []
        self._condition = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def call(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Runs `inputs` (every array with the same first dimension) in a merged batch."""
        rows = len(next(iter(inputs.values()))) if inputs else 0
        if rows == 0 or rows >= self._options.max_batch_size:
            # Nothing to gain from merging; TF Serving would split or reject a request larger
            # than max_batch_size, here it runs on its own.
            return self._run(inputs)
        task = _Task(inputs, rows)
        with self._condition:
            if self._closed:
                raise RuntimeError("the batcher is closed")
            self._queue.append(task)
            self._condition.notify_all()
        task.done.wait()
        if task.error is not None:
            raise task.error
        return task.outputs

    def close(self) -> None:
        """Runs what is queued, then stops the scheduling thread."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()
        self._thread.join()

    def _take_batch(self) -> list[_Task]:
        timeout = self._options.batch_timeout_micros / 1e6
        with self._condition:
            while not self._queue:
                if self._closed:
                    return []
                self._condition.wait()
            deadline = self._queue[0].enqueued + timeout
            while not self._closed:
                queued_rows = sum(task.rows for task in self._queue)
                remaining = deadline - time.monotonic()
                if queued_rows >= self._options.max_batch_size or remaining <= 0:
                    break
                self._condition.wait(remaining)
            batch, rows = [], 0
            while self._queue and rows + self._queue[0].rows <= self._options.max_batch_size:
                task = self._queue.pop(0)
                batch.append(task)
                rows += task.rows
            return batch

    def _loop(self) -> None:
        while True:
            batch = self._take_batch()
            if not batch:
                return
            self._run_batch(batch)

    def _run_batch(self, batch: list[_Task]) -> None:
        try:
            if len(batch) == 1:
                self._run_alone(batch[0])
            else:
                merged = {
                    key: np.concatenate([task.inputs[key] for task in batch])
                    for key in batch[0].inputs
                }
                try:
                    outputs = self._run(merged)
                except Exception:  # noqa: BLE001
                    # One bad request (an undecodable picture) must not fail the others
                    # merged with it: run each on its own to give the error to its sender.
                    for task in batch:
                        self._run_alone(task)
                    return
                start = 0
                for task in batch:
                    task.outputs = {
                        key: value[start : start + task.rows] for key, value in outputs.items()
                    }
                    start += task.rows
        except Exception as error:  # noqa: BLE001  (the waiting request gets the model's error)
            for task in batch:
                task.error = error
        finally:
            for task in batch:
                task.done.set()

    def _run_alone(self, task: _Task) -> None:
        try:
            task.outputs = self._run(task.inputs)
        except Exception as error:  # noqa: BLE001
            task.error = error
