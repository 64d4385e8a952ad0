"""A scripted stand-in for TF Serving's predict call, for deterministic chat tests.

The real model (tests of test_chat_with_model.py) is weak on the sample; the dialogue rules
need exact confidences and sentiments, so these tests script them per customer text.
"""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import schemas


def prediction(
    intent: str, confidence: float, sentiment: str = "neutral", out_of_scope: bool = False
) -> dict:
    """A full `predictions` row: `confidence` on `intent`, the rest spread evenly."""
    labels = schemas.intent_labels()
    rest = (1.0 - confidence) / (len(labels) - 1)
    probabilities = [confidence if label == intent else rest for label in labels]
    sentiments = [0.8 if s == sentiment else 0.1 for s in schemas.sentiment_labels()]
    return {
        "intent": "out_of_scope" if out_of_scope else intent,
        "intent_probabilities": probabilities,
        "confidence": confidence,
        "out_of_scope": out_of_scope,
        "sentiment": sentiment,
        "sentiment_probabilities": sentiments,
    }


class FakeModelServer:
    """Answers POST /v1/models/mmcs:predict from `script` (customer text, or the transcript
    where there is none -> row).

    Texts not in the script get `default`. `status` != 200 answers that code with an
    error; `delay_seconds` sleeps first (timeouts). `requests` records every instance,
    `batches` the instances of each request (a voice turn sends one per n-best transcript).
    """

    def __init__(self):
        self.script: dict[str, dict] = {}
        self.default = prediction("card_arrival", 0.9)
        self.status = 200
        self.delay_seconds = 0.0
        self.max_rows: int | None = None  # answer at most this many rows (a broken server)
        self.requests: list[dict] = []
        self.batches: list[list[dict]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                instances = body["instances"]
                fake.requests.extend(instances)
                fake.batches.append(instances)
                time.sleep(fake.delay_seconds)
                if self.path != "/v1/models/mmcs:predict":
                    code, payload = 404, {"error": f"no {self.path}"}
                elif fake.status != 200:
                    code, payload = fake.status, {"error": "scripted failure"}
                else:
                    # Scripted by the text, or the transcript of a voice-only turn.
                    rows = [
                        fake.script.get(i["text"] or i.get("transcript", ""), fake.default)
                        for i in instances
                    ]
                    code, payload = 200, {"predictions": rows[: fake.max_rows]}
                data = json.dumps(payload).encode()
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up (timeout tests)

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._http.server_address[1]}"
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    def reset(self) -> None:
        self.script.clear()
        self.default = prediction("card_arrival", 0.9)
        self.status = 200
        self.delay_seconds = 0.0
        self.max_rows = None
        self.requests.clear()
        self.batches.clear()

    def __enter__(self) -> "FakeModelServer":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._http.shutdown()
        self._http.server_close()
