"""Reason codes and the record kept for every log record that could not be converted."""

import base64
import dataclasses
import json

# Every reason a raw log record is set aside. The quarantine output and summary.json use
# these codes; docs/log_format.md explains each.
NON_UTF8 = "non_utf8"
OVERSIZED_RECORD = "oversized_record"
INVALID_JSON = "invalid_json"
NOT_AN_OBJECT = "not_an_object"
MISSING_FIELD = "missing_field"
INVALID_FIELD = "invalid_field"
INVALID_TIMESTAMP = "invalid_timestamp"
UNKNOWN_CHANNEL = "unknown_channel"
UNKNOWN_INTENT = "unknown_intent"
UNKNOWN_SENTIMENT = "unknown_sentiment"
EMPTY_TURN = "empty_turn"
UNSAFE_ATTACHMENT_PATH = "unsafe_attachment_path"
MISSING_ATTACHMENT = "missing_attachment"
OVERSIZED_ATTACHMENT = "oversized_attachment"
UNDECODABLE_IMAGE = "undecodable_image"
UNDECODABLE_AUDIO = "undecodable_audio"
DUPLICATE_TURN_ID = "duplicate_turn_id"

ALL_REASONS = (
    NON_UTF8,
    OVERSIZED_RECORD,
    INVALID_JSON,
    NOT_AN_OBJECT,
    MISSING_FIELD,
    INVALID_FIELD,
    INVALID_TIMESTAMP,
    UNKNOWN_CHANNEL,
    UNKNOWN_INTENT,
    UNKNOWN_SENTIMENT,
    EMPTY_TURN,
    UNSAFE_ATTACHMENT_PATH,
    MISSING_ATTACHMENT,
    OVERSIZED_ATTACHMENT,
    UNDECODABLE_IMAGE,
    UNDECODABLE_AUDIO,
    DUPLICATE_TURN_ID,
)


class RecordRejected(Exception):
    """Raised inside conversion: the record goes to quarantine with this reason."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclasses.dataclass(frozen=True)
class QuarantinedRecord:
    """A log record set aside, with where it came from and why.

    Attributes:
      source: "<file>:<line>" of the record (line numbers from 1).
      reason: one of ALL_REASONS.
      detail: a readable explanation naming the field and what was expected.
      raw: the original line, byte for byte.
      turn_id: the record's turn_id when it could be read, else None.
    """

    source: str
    reason: str
    detail: str
    raw: bytes
    turn_id: str | None = None

    def to_json(self) -> str:
        """One line of quarantine.jsonl; non-UTF-8 originals are kept as base64."""
        try:
            original = {"record": self.raw.decode("utf-8")}
        except UnicodeDecodeError:
            original = {"record_base64": base64.b64encode(self.raw).decode("ascii")}
        return json.dumps(
            {
                "source": self.source,
                "reason": self.reason,
                "detail": self.detail,
                "turn_id": self.turn_id,
                **original,
            },
            ensure_ascii=False,
        )
