"""The data contracts: the raw log format (JSON Schema) and the curated TFDV schema."""

import functools
import json
from pathlib import Path

_HERE = Path(__file__).resolve().parent

RAW_TURN_SCHEMA_PATH = _HERE / "raw_turn.schema.json"
TFDV_SCHEMA_PATH = _HERE / "schema.pbtxt"
CUSTOM_VALIDATIONS_PATH = _HERE / "custom_validations.pbtxt"


@functools.lru_cache(maxsize=1)
def raw_turn_schema() -> dict:
    """The JSON Schema of one raw log record (one customer turn)."""
    return json.loads(RAW_TURN_SCHEMA_PATH.read_text(encoding="utf-8"))


def _enum_values(field: str) -> tuple[str, ...]:
    values = raw_turn_schema()["properties"][field]["enum"]
    return tuple(v for v in values if v is not None)


def intent_labels() -> tuple[str, ...]:
    """The intent label set: the 77 BANKING77 intents and out_of_scope, in contract order."""
    return _enum_values("intent")


def sentiment_labels() -> tuple[str, ...]:
    """The sentiment label set."""
    return _enum_values("sentiment")


def channels() -> tuple[str, ...]:
    """The channels a turn can arrive on."""
    return _enum_values("channel")
