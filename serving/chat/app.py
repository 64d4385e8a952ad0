"""`ChatServer`: the chat service's HTTP API and web page (stdlib ThreadingHTTPServer).

    POST /v1/conversations                      {"channel": "chat"} (optional) -> 201
    POST /v1/conversations/{id}/messages        JSON or multipart/form-data -> the reply
    GET  /v1/conversations/{id}                 history, handoff state and events
    GET  /                                      the web chat page (static/)
    GET  /healthz                               {"status": "ok"}

Client mistakes are 4xx with {"error": "..."}; the model server failing is not one (the
customer gets a graceful reply, see service.py).
"""

import email.parser
import email.policy
import json
import logging
import os
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from serving import json_body
from serving.chat import media
from serving.chat.service import ChatService, CustomerMessage, RequestError

DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024
STATIC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
_STATIC_FILES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/static/index.html": ("index.html", "text/html; charset=utf-8"),
    "/static/chat.js": ("chat.js", "text/javascript; charset=utf-8"),
    "/static/chat.css": ("chat.css", "text/css; charset=utf-8"),
}
_CONVERSATION = re.compile(r"^/v1/conversations/([A-Za-z0-9._:-]{1,128})$")
_MESSAGES = re.compile(r"^/v1/conversations/([A-Za-z0-9._:-]{1,128})/messages$")
_MESSAGE_FIELDS = {"text", "image", "audio", "speak"}
# Bodies up to this many bytes over the limit are read and dropped, so that the client
# gets its 413 instead of a reset connection.
_DRAIN_LIMIT = 256 * 1024 * 1024

_log = logging.getLogger(__name__)


class ChatServer:
    """Serves a ChatService over HTTP in a background thread.

    Args:
        service: the chat service.
        host, port: where to listen; port 0 picks a free one (see `url`).
        max_body_bytes: larger request bodies get 413.
    """

    def __init__(
        self,
        service: ChatService,
        host: str = "127.0.0.1",
        port: int = 0,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ):
        self.service = service
        self.host = host
        self.port = port
        self.max_body_bytes = max_body_bytes
        self._http: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> "ChatServer":
        self._http = ThreadingHTTPServer((self.host, self.port), _Handler)
        self._http.daemon_threads = True
        self._http.chat = self  # the handler's way back to the service
        self.port = self._http.server_address[1]
        self._thread = threading.Thread(
            target=self._http.serve_forever, name="chat-server-http", daemon=True
        )
        self._thread.start()
        _log.info("chat service at %s", self.url)
        return self

    def serve_forever(self) -> None:
        """Blocks until stop() is called from another thread (or a signal handler)."""
        if self._thread is None:
            self.start()
        self._thread.join()

    def stop(self) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> "ChatServer":
        return self if self._http is not None else self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


def _parse_bool(value, field: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in (
        "true",
        "1",
        "on",
        "yes",
        "false",
        "0",
        "off",
        "no",
        "",
    ):
        return value.lower() in ("true", "1", "on", "yes")
    raise RequestError(f"'{field}' must be true or false, got {value!r}")


def _message_from_json(body: bytes) -> CustomerMessage:
    try:
        data = json_body.parse_json(body)
    except json_body.JsonBodyError as error:
        raise RequestError(f"the body is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise RequestError(f"the body must be a JSON object, not {type(data).__name__}")
    unknown = sorted(set(data) - _MESSAGE_FIELDS)
    if unknown:
        raise RequestError(f"unknown fields {unknown}; expected any of {sorted(_MESSAGE_FIELDS)}")
    text = data.get("text")
    if text is not None and not isinstance(text, str):
        raise RequestError(f"'text' must be a string, not {type(text).__name__}")
    if data.get("speak") is not None and not isinstance(data["speak"], bool):
        raise RequestError(f"'speak' must be true or false, got {data['speak']!r}")
    try:
        image = media.decode_base64(data.get("image"), "image")
        audio = media.decode_base64(data.get("audio"), "audio")
    except media.MediaError as error:
        raise RequestError(str(error), error.status) from error
    return CustomerMessage(text or "", image, audio, data.get("speak"))


def _message_from_multipart(content_type: str, body: bytes) -> CustomerMessage:
    parsed = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    if not parsed.is_multipart():
        raise RequestError("the multipart body could not be parsed (boundary missing?)")
    fields: dict[str, bytes] = {}
    for part in parsed.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name not in _MESSAGE_FIELDS:
            raise RequestError(
                f"unknown form field {name!r}; expected any of {sorted(_MESSAGE_FIELDS)}"
            )
        fields[name] = part.get_payload(decode=True) or b""
    try:
        text = fields.get("text", b"").decode("utf-8")
    except UnicodeDecodeError as error:
        raise RequestError("form field 'text' is not UTF-8") from error
    speak = _parse_bool(fields["speak"].decode("latin-1"), "speak") if "speak" in fields else None
    return CustomerMessage(text, fields.get("image") or None, fields.get("audio") or None, speak)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mmcs-chat"

    @property
    def chat(self) -> ChatServer:
        return self.server.chat

    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        _log.debug("%s " + format, self.address_string(), *args)

    # === Responses ===

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, payload: dict) -> None:
        self._send(status, json.dumps(payload).encode("utf-8"), "application/json")

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": message})

    def _body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            raise RequestError("chunked bodies are not supported; send Content-Length", 411)
        length_header = self.headers.get("Content-Length")
        if length_header is None:
            return b""  # HTTP/1.1: no Content-Length and not chunked means no body
        try:
            length = int(length_header)
            if length < 0:
                raise ValueError(length_header)
        except ValueError:
            self.close_connection = True
            raise RequestError(f"bad Content-Length {length_header!r}") from None
        if length > self.chat.max_body_bytes:
            self.close_connection = True
            if length <= _DRAIN_LIMIT:
                remaining = length
                while remaining > 0:
                    chunk = self.rfile.read(min(remaining, 1 << 20))
                    if not chunk:
                        break
                    remaining -= len(chunk)
            raise RequestError(
                f"the body has {length} bytes; the limit is {self.chat.max_body_bytes}", 413
            )
        return self.rfile.read(length)

    # === Routes ===

    def _route(self, method: str) -> None:
        path = self.path.split("?", 1)[0]
        try:
            if method in ("GET", "HEAD"):
                self._get(path)
            else:
                self._post(path)
        except RequestError as error:
            self._error(error.status, str(error))
        except Exception:
            _log.exception("%s %s failed", method, path)
            self.close_connection = True
            self._error(500, "internal error; the request was not completed")

    def _get(self, path: str) -> None:
        if path in _STATIC_FILES:
            name, content_type = _STATIC_FILES[path]
            with open(os.path.join(STATIC_DIR, name), "rb") as f:
                self._send(200, f.read(), content_type)
        elif path == "/healthz":
            self._json(200, {"status": "ok"})
        elif match := _CONVERSATION.match(path):
            self._json(200, self.chat.service.conversation(match.group(1)))
        elif path == "/v1/conversations" or _MESSAGES.match(path):
            raise RequestError(f"{path} takes POST", 405)
        else:
            raise RequestError(f"no such path {path}", 404)

    def _post(self, path: str) -> None:
        if path == "/v1/conversations":
            body = self._body()
            channel = "chat"
            if body.strip():
                try:
                    data = json_body.parse_json(body)
                except json_body.JsonBodyError as error:
                    raise RequestError(f"the body is not valid JSON: {error}") from None
                if not isinstance(data, dict) or set(data) - {"channel"}:
                    raise RequestError('the body must be {} or {"channel": "chat|voice|app"}')
                channel = data.get("channel", "chat")
            self._json(201, self.chat.service.create_conversation(channel))
        elif match := _MESSAGES.match(path):
            body = self._body()
            content_type = self.headers.get("Content-Type", "application/json")
            if content_type.lower().startswith("multipart/form-data"):
                message = _message_from_multipart(content_type, body)
            elif content_type.lower().split(";")[0].strip() in ("application/json", ""):
                message = _message_from_json(body)
            else:
                raise RequestError(
                    f"unsupported Content-Type {content_type!r}; send application/json or "
                    "multipart/form-data",
                    415,
                )
            self._json(200, self.chat.service.message(match.group(1), message))
        elif path in _STATIC_FILES or path == "/healthz" or _CONVERSATION.match(path):
            self.close_connection = True
            raise RequestError(f"{path} takes GET", 405)
        else:
            self.close_connection = True
            raise RequestError(f"no such path {path}", 404)

    def do_GET(self):
        self._route("GET")

    def do_HEAD(self):
        self._route("HEAD")

    def do_POST(self):
        self._route("POST")

    def _not_allowed(self):
        self.close_connection = True
        self._error(405, f"{self.command} is not supported; use GET or POST")

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _not_allowed
