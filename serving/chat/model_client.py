"""`ModelClient`: calls the model over TF Serving's REST API (`mmcs serve` or TF Serving)."""

import base64
import dataclasses
import http.client
import json
import socket
import urllib.error
import urllib.request
from collections.abc import Sequence

import schemas
from models import features
from serving import n_best

DEFAULT_URL = "http://127.0.0.1:8501"
DEFAULT_MODEL_NAME = "mmcs"
DEFAULT_TIMEOUT_SECONDS = 15.0


class ModelUnavailable(Exception):
    """The model server could not answer: unreachable, timed out, an error, or nonsense."""


@dataclasses.dataclass(frozen=True)
class ModelOutput:
    """One prediction of the served model (the outputs of its `serving_default`)."""

    intent: str
    intent_probabilities: tuple[float, ...]  # in schemas.intent_labels() order
    confidence: float  # probability of the best in-scope intent
    out_of_scope: bool
    sentiment: str
    sentiment_probabilities: tuple[float, ...]  # in schemas.sentiment_labels() order

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, row: dict) -> "ModelOutput":
        """Checks and converts one row of `predictions`.

        Raises:
          ValueError: naming the output that is missing or malformed.
        """
        intents, sentiments = schemas.intent_labels(), schemas.sentiment_labels()
        try:
            output = cls(
                intent=str(row["intent"]),
                intent_probabilities=tuple(float(p) for p in row["intent_probabilities"]),
                confidence=float(row["confidence"]),
                out_of_scope=bool(row["out_of_scope"]),
                sentiment=str(row["sentiment"]),
                sentiment_probabilities=tuple(float(p) for p in row["sentiment_probabilities"]),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"prediction without a valid {error}") from error
        if output.intent not in intents or output.sentiment not in sentiments:
            raise ValueError(
                f"unknown label in prediction: {output.intent!r}, {output.sentiment!r}"
            )
        if len(output.intent_probabilities) != len(intents) or len(
            output.sentiment_probabilities
        ) != len(sentiments):
            raise ValueError("prediction probabilities have the wrong length")
        return output


class ModelClient:
    """`POST {url}/v1/models/{model_name}:predict` with one instance per customer turn.

    Args:
        url: the server's base URL, e.g. http://127.0.0.1:8501.
        model_name: the model's name in the URL.
        timeout_seconds: per request; a slower answer counts as unavailable.
    """

    def __init__(
        self,
        url: str = DEFAULT_URL,
        model_name: str = DEFAULT_MODEL_NAME,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    ):
        self.url = url.rstrip("/")
        self.model_name = model_name
        self.timeout_seconds = timeout_seconds

    @property
    def predict_url(self) -> str:
        return f"{self.url}/v1/models/{self.model_name}:predict"

    def predict(
        self,
        text: str,
        image: bytes | None,
        audio: bytes | None,
        transcript: str = "",
        image_text: str = "",
        hypotheses: Sequence = (),
    ) -> ModelOutput:
        """One turn's prediction.

        Args:
          text: what the customer wrote ("" when nothing).
          image: PNG or JPEG bytes, or None.
          audio: 16 kHz mono PCM16 WAV bytes, or None.
          transcript: what speech recognition heard in the audio ("" when none).
          image_text: what text recognition read in the picture ("" when none).
          hypotheses: speech recognition's n-best transcripts (`.text`, `.weight`), best
            first; with two or more, the turn is sent once with `transcript` and once with
            each other hypothesis, in one request, and answered with their combination
            (serving/n_best.py).

        Raises:
          ModelUnavailable: with what went wrong.
        """

        # All five inputs are required by the signature; absent ones are empty.
        def b64(data: bytes | None) -> dict:
            return {"b64": base64.b64encode(data or b"").decode("ascii")}

        instance = {
            features.TEXT_KEY: text,
            features.IMAGE_KEY: b64(image),
            features.AUDIO_KEY: b64(audio),
            features.TRANSCRIPT_KEY: transcript,
            features.IMAGE_TEXT_KEY: image_text,
        }
        rows = n_best.transcript_rows(hypotheses)
        instances = [
            instance if text is None else {**instance, features.TRANSCRIPT_KEY: text}
            for text, _ in rows
        ]
        weights = [weight for _, weight in rows]
        body = json.dumps({"instances": instances})
        request = urllib.request.Request(
            self.predict_url,
            data=body.encode("utf-8"),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:
                payload = response.read()
        except urllib.error.HTTPError as error:
            detail = error.read()[:500].decode("utf-8", "replace")
            raise ModelUnavailable(
                f"model server answered {error.code} at {self.predict_url}: {detail}"
            ) from error
        except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
            reason = getattr(error, "reason", error)
            if isinstance(reason, socket.timeout | TimeoutError):
                reason = f"no answer within {self.timeout_seconds:g} s"
            raise ModelUnavailable(f"model server at {self.url} unreachable: {reason}") from error
        try:
            rows = json.loads(payload)["predictions"]
            if (
                not isinstance(rows, list)
                or len(rows) != len(instances)
                or not all(isinstance(row, dict) for row in rows)
            ):
                raise ValueError(f"expected {len(instances)} predictions")
            outputs = [ModelOutput.from_json(row) for row in rows]
            if len(outputs) == 1:
                return outputs[0]
            return ModelOutput.from_json(n_best.combine([o.to_json() for o in outputs], weights))
        except (ValueError, KeyError, TypeError) as error:
            raise ModelUnavailable(f"unexpected answer from {self.predict_url}: {error}") from error
