"""Numbered model versions under a model base directory, loaded and hot-reloaded like TF
Serving with the `latest` version policy (its file-system storage path source).

A poller looks for the newest version directory; once its files have stopped changing for
one poll interval, it is loaded fully and warmed up with `assets.extra/
tf_serving_warmup_requests` before requests switch to it. The previous version is unloaded
when its last in-flight request has finished (reference counting). A directory that does
not load (half written, corrupt) leaves the current version serving; the error is reported
in the version's status, and the load is retried when the directory changes.
"""

import contextlib
import dataclasses
import logging
import os
import threading
from collections.abc import Iterator

import numpy as np
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the TF Text ops the SavedModel uses)
from tensorflow.core.protobuf import error_codes_pb2, meta_graph_pb2, saved_model_pb2
from tensorflow_serving.apis import prediction_log_pb2

from serving.model_server import batching, metrics

SAVED_MODEL_FILE = "saved_model.pb"
WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")
SERVE_TAG = "serve"

# TF Serving's ModelVersionStatus states (get_model_status.proto) used here.
STATE_LOADING = "LOADING"
STATE_AVAILABLE = "AVAILABLE"
STATE_UNLOADING = "UNLOADING"
STATE_END = "END"

_log = logging.getLogger(__name__)


class ServableNotFoundError(LookupError):
    """No loaded version answers the request (TF Serving's NOT_FOUND)."""


@dataclasses.dataclass
class VersionStatus:
    """One version's state as GET /v1/models/{name} reports it."""

    version: int
    state: str
    error_code: str = "OK"  # a tensorflow.error.Code name
    error_message: str = ""


def read_signature_defs(version_dir: str) -> dict[str, meta_graph_pb2.SignatureDef]:
    """The signature defs of the SavedModel's `serve` meta graph, as TF Serving reports them."""
    with tf.io.gfile.GFile(os.path.join(version_dir, SAVED_MODEL_FILE), "rb") as file:
        saved_model = saved_model_pb2.SavedModel.FromString(file.read())
    for meta_graph in saved_model.meta_graphs:
        if SERVE_TAG in meta_graph.meta_info_def.tags:
            return dict(meta_graph.signature_def)
    raise ValueError(f"{version_dir} has no meta graph tagged '{SERVE_TAG}'")


def batchable(signature_def: meta_graph_pb2.SignatureDef) -> bool:
    """Whether every input and output of a signature has a free first (batch) dimension."""
    tensors = [*signature_def.inputs.values(), *signature_def.outputs.values()]
    return bool(tensors) and all(
        not t.tensor_shape.unknown_rank
        and len(t.tensor_shape.dim) > 0
        and t.tensor_shape.dim[0].size == -1
        for t in tensors
    )


class ServableVersion:
    """One loaded SavedModel version: its signatures, callable by name, and a reference count."""

    def __init__(
        self,
        version: int,
        path: str,
        batching_options: batching.BatchingOptions | None,
        server_metrics: metrics.ServerMetrics,
    ):
        self.version = version
        self.path = path
        self.signature_defs = read_signature_defs(path)
        self._metrics = server_metrics
        self._loaded = tf.saved_model.load(path, tags=[SERVE_TAG])
        self._functions = dict(self._loaded.signatures)
        self._input_dtypes = {
            name: {key: tf.as_dtype(spec.dtype) for key, spec in sig.inputs.items()}
            for name, sig in self.signature_defs.items()
        }
        self._batchers: dict[str, batching.Batcher] = {}
        if batching_options is not None:
            for name in self._functions:
                if name in self.signature_defs and batchable(self.signature_defs[name]):
                    self._batchers[name] = batching.Batcher(
                        lambda inputs, name=name: self._call(name, inputs),
                        batching_options,
                        name=f"batcher-{version}-{name}",
                    )
        self._references = 0
        self._retired = False
        self._lock = threading.Lock()

    def callable_signatures(self) -> set[str]:
        """Signature names a predict request may name (not e.g. __saved_model_init_op)."""
        return set(self._functions)

    def predict(self, signature_name: str, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Runs a signature on named [batch, ...] inputs (merged with others when batching)."""
        batcher = self._batchers.get(signature_name)
        if batcher is not None:
            return batcher.call(inputs)
        return self._call(signature_name, inputs)

    def _call(self, signature_name: str, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        dtypes = self._input_dtypes[signature_name]
        tensors = {key: tf.constant(value, dtype=dtypes[key]) for key, value in inputs.items()}
        outputs = self._functions[signature_name](**tensors)
        rows = len(next(iter(inputs.values()))) if inputs else 0
        self._metrics.record_model_call(signature_name, rows)
        return {key: value.numpy() for key, value in outputs.items()}

    def warm_up(self) -> int:
        """Replays the SavedModel's warm-up predict requests, as TF Serving does before it
        marks a version available; returns how many ran."""
        warmup_path = os.path.join(self.path, WARMUP_FILE)
        if not tf.io.gfile.exists(warmup_path):
            return 0
        count = 0
        for record in tf.data.TFRecordDataset(warmup_path):
            log = prediction_log_pb2.PredictionLog.FromString(record.numpy())
            if log.WhichOneof("log_type") != "predict_log":
                continue
            request = log.predict_log.request
            name = request.model_spec.signature_name or "serving_default"
            inputs = {key: tf.make_ndarray(value) for key, value in request.inputs.items()}
            self._call(name, inputs)
            count += 1
        return count

    # === Reference counting ===

    def acquire(self) -> bool:
        with self._lock:
            if self._retired:
                return False
            self._references += 1
            return True

    def release(self) -> None:
        with self._lock:
            self._references -= 1
            unload = self._retired and self._references == 0
        if unload:
            self._unload()

    def retire(self) -> bool:
        """Takes the version out of service; it unloads once its last request is done.

        Returns whether it unloaded now (no request in flight)."""
        with self._lock:
            self._retired = True
            unload = self._references == 0
        if unload:
            self._unload()
        return unload

    @property
    def in_flight(self) -> int:
        with self._lock:
            return self._references

    def _unload(self) -> None:
        for batcher in self._batchers.values():
            batcher.close()
        self._batchers.clear()
        self._functions.clear()
        self._loaded = None
        _log.info("unloaded version %d", self.version)


def _version_dirs(base_dir: str) -> dict[int, str]:
    try:
        names = tf.io.gfile.listdir(base_dir)
    except tf.errors.NotFoundError:
        return {}
    versions = {}
    for entry in names:
        name = entry.strip("/")
        if name.isdigit() and tf.io.gfile.isdir(os.path.join(base_dir, name)):
            versions[int(name)] = os.path.join(base_dir, name)
    return versions


def _snapshot(version_dir: str) -> tuple:
    """The files of a version directory with sizes and times: unchanged means fully written."""
    entries = []
    for root, _, files in os.walk(version_dir):
        for name in files:
            path = os.path.join(root, name)
            with contextlib.suppress(OSError):
                stat = os.stat(path)
                entries.append((os.path.relpath(path, version_dir), stat.st_size, stat.st_mtime_ns))
    return tuple(sorted(entries))


class ModelVersions:
    """The versions of one model: which one serves, loading and unloading, their statuses."""

    def __init__(
        self,
        base_dir: str,
        batching_options: batching.BatchingOptions | None,
        server_metrics: metrics.ServerMetrics,
        poll_seconds: float = 1.0,
    ):
        self.base_dir = base_dir
        self._batching = batching_options
        self._metrics = server_metrics
        self._poll_seconds = poll_seconds
        self._lock = threading.Lock()
        self._current: ServableVersion | None = None
        self._retiring: list[ServableVersion] = []
        self._statuses: dict[int, VersionStatus] = {}
        self._failed_snapshots: dict[int, tuple] = {}
        self._last_snapshots: dict[int, tuple] = {}
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None

    # === Life cycle ===

    def start(self) -> None:
        """Loads the newest loadable version now, then polls for new ones in the background."""
        if not tf.io.gfile.isdir(self.base_dir):
            raise FileNotFoundError(f"model base directory {self.base_dir} does not exist")
        for version, path in sorted(_version_dirs(self.base_dir).items(), reverse=True):
            if not tf.io.gfile.exists(os.path.join(path, SAVED_MODEL_FILE)):
                continue
            if self._load_and_switch(version, path, _snapshot(path)):
                break
        if self._poll_seconds > 0:
            self._poller = threading.Thread(target=self._poll_loop, name="version-poller")
            self._poller.daemon = True
            self._poller.start()

    def stop(self) -> None:
        self._stop.set()
        if self._poller is not None:
            self._poller.join()
        with self._lock:
            servables = [s for s in (self._current, *self._retiring) if s is not None]
            self._current = None
            self._retiring = []
        for servable in servables:
            servable.retire()

    def _poll_loop(self) -> None:
        while not self._stop.wait(self._poll_seconds):
            try:
                self.poll_once()
            except Exception:  # noqa: BLE001  (the poller must outlive a bad directory)
                _log.exception("polling %s failed", self.base_dir)

    def poll_once(self) -> None:
        """Loads the newest version when it is new, complete and stable since the last poll."""
        candidates = {
            version: path
            for version, path in _version_dirs(self.base_dir).items()
            if tf.io.gfile.exists(os.path.join(path, SAVED_MODEL_FILE))
        }
        snapshots = {version: _snapshot(path) for version, path in candidates.items()}
        previous, self._last_snapshots = self._last_snapshots, snapshots
        current = self._current.version if self._current is not None else None
        for version in sorted(candidates, reverse=True):
            if version == current:
                return
            snapshot = snapshots[version]
            if snapshot != previous.get(version):
                return  # still being written: wait until it is stable for one poll
            if self._failed_snapshots.get(version) == snapshot:
                continue  # failed as it is now; retried when it changes
            if self._load_and_switch(version, candidates[version], snapshot):
                return

    def _load_and_switch(self, version: int, path: str, snapshot: tuple) -> bool:
        with self._lock:
            self._statuses[version] = VersionStatus(version, STATE_LOADING)
        servable = None
        try:
            servable = ServableVersion(version, path, self._batching, self._metrics)
            warmed = servable.warm_up()
        except Exception as error:  # noqa: BLE001  (any load failure keeps the old version)
            if servable is not None:  # loaded but failed its warm-up: TF Serving fails it too
                servable.retire()
            code = error.error_code if isinstance(error, tf.errors.OpError) else None
            with self._lock:
                self._statuses[version] = VersionStatus(
                    version,
                    STATE_END,
                    error_code=_code_name(code),
                    error_message=f"loading {path} failed: {type(error).__name__}: {error}",
                )
                self._failed_snapshots[version] = snapshot
            _log.warning("version %d at %s did not load: %s", version, path, error)
            return False
        with self._lock:
            previous, self._current = self._current, servable
            self._statuses[version] = VersionStatus(version, STATE_AVAILABLE)
            self._failed_snapshots.pop(version, None)
            if previous is not None:
                self._statuses[previous.version] = VersionStatus(previous.version, STATE_UNLOADING)
                self._retiring.append(previous)
        _log.info("serving version %d from %s (%d warm-up requests)", version, path, warmed)
        if previous is not None:
            self._finish_retiring(previous)
        return True

    def _finish_retiring(self, servable: ServableVersion) -> None:
        servable.retire()  # unloads now, or when its last in-flight request releases it

    def _released(self, servable: ServableVersion) -> None:
        with self._lock:
            if servable in self._retiring and servable.in_flight == 0:
                self._retiring.remove(servable)
                self._statuses[servable.version] = VersionStatus(servable.version, STATE_END)

    # === Serving ===

    @contextlib.contextmanager
    def lease(self, version: int | None = None) -> Iterator[ServableVersion]:
        """The servable for a request (the newest when `version` is None), held until the
        request is done so that a version switch never unloads it under a running request."""
        with self._lock:
            servable = self._current
            if servable is None or (version is not None and servable.version != version):
                servable = None
            if servable is None or not servable.acquire():
                raise ServableNotFoundError(version)
        try:
            yield servable
        finally:
            servable.release()
            self._released(servable)

    @property
    def current_version(self) -> int | None:
        with self._lock:
            return self._current.version if self._current is not None else None

    def statuses(self) -> list[VersionStatus]:
        """Every version seen, newest first; retired ones still running report UNLOADING."""
        with self._lock:
            for servable in list(self._retiring):
                if servable.in_flight == 0:
                    self._retiring.remove(servable)
                    self._statuses[servable.version] = VersionStatus(servable.version, STATE_END)
            return [dataclasses.replace(s) for _, s in sorted(self._statuses.items(), reverse=True)]


def _code_name(code: int | None) -> str:
    if code is None:
        return "UNKNOWN"
    return error_codes_pb2.Code.Name(code)
