"""`ModelServer`: TF Serving's REST API over HTTP for one model base directory.

    with ModelServer("runs/demo/serving/mmcs").start() as server:
        requests.post(f"{server.url}/v1/models/mmcs:predict", json={"instances": [...]})

Routes (as TF Serving): GET /v1/models/{name}[/versions/{v}] (status),
GET /v1/models/{name}[/versions/{v}]/metadata, POST /v1/models/{name}[/versions/{v}]:predict,
GET /monitoring/prometheus/metrics. Client mistakes are 4xx with {"error": "..."}.
"""

import json
import logging
import socket
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import tensorflow as tf

from serving.model_server import metrics, rest_api, versions
from serving.model_server.batching import BatchingOptions

METRICS_PATH = "/monitoring/prometheus/metrics"
_CHUNK_LIMIT_LINE = 1024
_LINGER_SECONDS = 5.0  # longest wait for the rest of a refused body

_log = logging.getLogger(__name__)


class ModelServer:
    """Serves the newest version under `model_base_dir` and hot-reloads newer ones.

    Args:
        model_base_dir: the Pusher's model base directory (<base>/<version>/saved_model.pb).
        model_name: the name in the URLs (/v1/models/<model_name>).
        host, port: where to listen; port 0 picks a free port (see `url`).
        batching: merge concurrent predict calls (TF Serving's --enable_batching); None: off.
        poll_seconds: how often to look for a new version (0: never).
        max_body_bytes: larger request bodies get 413.
    """

    def __init__(
        self,
        model_base_dir: str,
        model_name: str = "mmcs",
        host: str = "127.0.0.1",
        port: int = 0,
        batching: BatchingOptions | None = None,
        poll_seconds: float = 1.0,
        max_body_bytes: int = 64 * 1024 * 1024,
    ):
        self.model_base_dir = model_base_dir
        self.model_name = model_name
        self.host = host
        self.port = port
        self.batching = batching
        self.max_body_bytes = max_body_bytes
        self.metrics = metrics.ServerMetrics(model_name)
        self.versions = versions.ModelVersions(
            model_base_dir, batching, self.metrics, poll_seconds=poll_seconds
        )
        self._http: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # === Life cycle ===

    def start(self) -> "ModelServer":
        """Loads the newest version, then serves in a background thread."""
        self.versions.start()
        try:
            self._http = _HttpServer((self.host, self.port), _Handler, self)
        except OSError:
            self.versions.stop()
            raise
        self.port = self._http.server_address[1]
        self._thread = threading.Thread(
            target=self._http.serve_forever, name="model-server-http", daemon=True
        )
        self._thread.start()
        _log.info("serving %s at %s", self.model_base_dir, self.url)
        return self

    def stop(self) -> None:
        """Stops accepting requests, then unloads every version."""
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._thread.join()
            self._http = None
        self.versions.stop()

    def __enter__(self) -> "ModelServer":
        return self if self._http is not None else self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def model_calls(self) -> int:
        """How many times a signature ran (warm-up included); batching merges requests."""
        return self.metrics.model_calls

    # === Requests (called from the HTTP handler threads) ===

    def handle(self, method: str, path: str, body_reader) -> tuple[int, bytes, str]:
        """Answers one request: (HTTP status, body, content type)."""
        if path == METRICS_PATH:
            if method != "GET":
                raise rest_api.RestError(
                    rest_api.HTTP_METHOD_NOT_ALLOWED, f"{method} is not allowed on {path}"
                )
            return rest_api.HTTP_OK, self.metrics.prometheus_text().encode(), "text/plain"
        route = rest_api.parse_model_route(path)
        if route is None:
            raise rest_api.RestError(
                rest_api.HTTP_NOT_FOUND, f"Malformed request: {method} {path}: no such route"
            )
        if method != route.method:
            raise rest_api.RestError(
                rest_api.HTTP_METHOD_NOT_ALLOWED,
                f"Malformed request: {method} {path}: use {route.method}",
            )
        if route.model_name != self.model_name:
            raise rest_api.RestError(
                rest_api.HTTP_NOT_FOUND,
                f"Servable not found for request: {_servable_request(route)}",
            )
        if route.label is not None:
            raise rest_api.RestError(
                rest_api.HTTP_NOT_FOUND,
                f"Unrecognized servable version label: {route.label}",
            )
        if route.action == "status":
            return rest_api.HTTP_OK, self._status(route), "application/json"
        if route.action in ("classify", "regress"):
            raise rest_api.RestError(
                rest_api.HTTP_BAD_REQUEST,
                f"the model has no {route.action} signature; use :predict",
            )
        try:
            with self.versions.lease(route.version) as servable:
                if route.action == "metadata":
                    answer = rest_api.model_metadata_json(
                        self.model_name, servable.version, servable.signature_defs
                    )
                else:
                    request = rest_api.parse_predict_body(
                        body_reader(), servable.signature_defs, servable.callable_signatures()
                    )
                    outputs = servable.predict(request.signature_name, request.inputs)
                    answer = rest_api.predict_response(outputs, request.row_format)
        except versions.ServableNotFoundError:
            raise rest_api.RestError(
                rest_api.HTTP_NOT_FOUND,
                f"Servable not found for request: {_servable_request(route)}",
            ) from None
        except tf.errors.OpError as error:
            # The model itself refused the input (e.g. bytes that are no picture): TF Serving
            # maps the TensorFlow status code to HTTP (INVALID_ARGUMENT -> 400).
            raise rest_api.RestError(
                rest_api.http_status_of_tf_error(error), error.message
            ) from None
        return rest_api.HTTP_OK, json.dumps(answer).encode("utf-8"), "application/json"

    def _status(self, route: rest_api.ModelRoute) -> bytes:
        statuses = self.versions.statuses()
        if route.version is not None:
            statuses = [s for s in statuses if s.version == route.version]
            if not statuses:
                raise rest_api.RestError(
                    rest_api.HTTP_NOT_FOUND,
                    f"Could not find version {route.version} of model {self.model_name}",
                )
        elif not statuses:
            raise rest_api.RestError(
                rest_api.HTTP_NOT_FOUND, f"Could not find any versions of model {self.model_name}"
            )
        return json.dumps(rest_api.model_status_json(statuses)).encode("utf-8")


def _servable_request(route: rest_api.ModelRoute) -> str:
    if route.version is None:
        return f"Latest({route.model_name})"
    return f"Specific({route.model_name}, {route.version})"


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # The listen backlog: socketserver's default of 5 resets connections when dozens of
    # clients connect at once.
    request_queue_size = 1024

    def __init__(self, address, handler, model_server: ModelServer):
        self.model_server = model_server
        super().__init__(address, handler)

    def handle_error(self, request, client_address):
        # A client that hung up mid-answer is no server fault; log it quietly.
        _log.debug("connection from %s failed", client_address, exc_info=True)


class _BodyTooLargeError(Exception):
    pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: clients reuse connections, as with TF Serving
    server_version = "mmcs-model-server"

    def setup(self):
        super().setup()
        # Answers go out at once: with Nagle's algorithm a small write waits for the client's
        # delayed ACK (about 40 ms per request).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self):
        self._answer("GET")

    def do_POST(self):
        self._answer("POST")

    def do_PUT(self):
        self._answer("PUT")

    def do_DELETE(self):
        self._answer("DELETE")

    def do_PATCH(self):
        self._answer("PATCH")

    def do_OPTIONS(self):
        self._answer("OPTIONS")  # 405 with the route's Allow header, as for PUT

    def do_HEAD(self):
        self._answer("HEAD")  # a GET's status and headers, without its body

    def _answer(self, method: str) -> None:
        model_server: ModelServer = self.server.model_server
        started = time.perf_counter()
        path = urllib.parse.urlsplit(self.path).path
        body_read = False

        def read_body() -> bytes:
            nonlocal body_read
            body_read = True
            return self._read_body(model_server.max_body_bytes)

        try:
            status, body, content_type = model_server.handle(
                "GET" if method == "HEAD" else method, path, read_body
            )
        except rest_api.RestError as error:
            status, body, content_type = error.status, rest_api.error_body(error.message), None
        except _BodyTooLargeError as error:
            status, body, content_type = (
                rest_api.HTTP_PAYLOAD_TOO_LARGE,
                rest_api.error_body(str(error)),
                None,
            )
            self.close_connection = True  # the unread body cannot be skipped safely
        except Exception as error:  # noqa: BLE001  (a server fault answers 500, never a crash)
            _log.exception("%s %s failed", method, path)
            status = rest_api.HTTP_INTERNAL_ERROR
            body, content_type = rest_api.error_body(f"{type(error).__name__}: {error}"), None
        if not body_read:  # any method may carry one; left unread it would be the next request
            self._discard_body(model_server.max_body_bytes)
        self.send_response(status)
        self.send_header("Content-Type", content_type or "application/json")
        self.send_header("Content-Length", str(len(body)))
        if status == rest_api.HTTP_METHOD_NOT_ALLOWED:
            route = rest_api.parse_model_route(path) if path != METRICS_PATH else None
            self.send_header("Allow", route.method if route else "GET")
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(body)
        if status == rest_api.HTTP_PAYLOAD_TOO_LARGE:
            self._linger()
        model_server.metrics.record_request(_api_name(path), status, time.perf_counter() - started)

    def _linger(self) -> None:
        """Reads (and drops) what the client still sends after a 413, for a short while.

        Closing a socket with unread data resets the connection, and a client still sending
        its body would see a broken pipe instead of the 413 answer."""
        try:
            remaining = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            remaining = 0
        deadline = time.monotonic() + _LINGER_SECONDS
        self.connection.settimeout(_LINGER_SECONDS)
        try:
            while remaining > 0 and time.monotonic() < deadline:
                chunk = self.rfile.read1(min(remaining, 1 << 16))
                if not chunk:
                    break
                remaining -= len(chunk)
        except OSError:
            pass  # the client gave up: nothing left to protect

    def _read_body(self, limit: int) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked(limit)
        try:
            length = int(self.headers.get("Content-Length", "0"))
            if length < 0:
                raise ValueError(length)
        except ValueError:
            self.close_connection = True
            raise rest_api.RestError(
                rest_api.HTTP_BAD_REQUEST, "invalid Content-Length header"
            ) from None
        if length > limit:
            raise _BodyTooLargeError(
                f"request body of {length} bytes is over the limit of {limit} bytes"
            )
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked(self, limit: int) -> bytes:
        body = bytearray()
        while True:
            line = self.rfile.readline(_CHUNK_LIMIT_LINE)
            try:
                size_field = line.split(b";")[0].strip()
                # Hex digits only: int(..., 16) also takes a sign and underscores, and a
                # negative size would read to the end of the connection.
                if not size_field or size_field.strip(b"0123456789abcdefABCDEF"):
                    raise ValueError(size_field)
                size = int(size_field, 16)
            except ValueError:
                self.close_connection = True
                raise rest_api.RestError(
                    rest_api.HTTP_BAD_REQUEST, "malformed chunked body"
                ) from None
            if size == 0:
                while self.rfile.readline(_CHUNK_LIMIT_LINE) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return bytes(body)
            if len(body) + size > limit:
                raise _BodyTooLargeError(f"request body is over the limit of {limit} bytes")
            body += self.rfile.read(size)
            self.rfile.readline(_CHUNK_LIMIT_LINE)

    def _discard_body(self, limit: int) -> None:
        try:
            self._read_body(limit)
        except (rest_api.RestError, _BodyTooLargeError):
            self.close_connection = True

    def log_message(self, format, *args):  # noqa: A002  (BaseHTTPRequestHandler's name)
        _log.debug("%s - %s", self.address_string(), format % args)


def _api_name(path: str) -> str:
    if path == METRICS_PATH:
        return "metrics"
    if path.endswith(":predict"):
        return "predict"
    if path.endswith("/metadata"):
        return "metadata"
    return "status"
