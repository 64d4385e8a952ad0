"""`ConversationStore`: conversations, their turns and events in SQLite (survives restarts)."""

import contextlib
import dataclasses
import json
import os
import sqlite3
import threading
import uuid

from serving.chat.model_client import ModelOutput

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    channel TEXT NOT NULL,
    handoff_reason TEXT,
    handed_off_at TEXT
);
CREATE TABLE IF NOT EXISTS turns (
    turn_id TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    turn_index INTEGER NOT NULL,
    timestamp TEXT NOT NULL,
    text TEXT NOT NULL,
    image TEXT,
    audio TEXT,
    model_output TEXT,
    model_error TEXT,
    action TEXT NOT NULL,
    intent TEXT,
    confidence REAL,
    context_turn_index INTEGER,
    reply TEXT NOT NULL,
    UNIQUE (conversation_id, turn_index)
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    turn_id TEXT,
    timestamp TEXT NOT NULL,
    type TEXT NOT NULL,
    reason TEXT,
    detail TEXT
);
"""

# Event types kept with a conversation.
HANDOFF_EVENT = "handoff"
MODEL_ERROR_EVENT = "model_error"


class UnknownConversation(KeyError):
    """No conversation with that id."""


@dataclasses.dataclass(frozen=True)
class Conversation:
    id: str
    created_at: str
    channel: str
    handoff_reason: str | None
    handed_off_at: str | None

    @property
    def handed_off(self) -> bool:
        return self.handed_off_at is not None


@dataclasses.dataclass(frozen=True)
class Turn:
    """A served customer turn and the service's answer."""

    turn_id: str
    conversation_id: str
    turn_index: int
    timestamp: str
    text: str
    image: str | None  # path of the logged attachment, relative to the log folder
    audio: str | None
    model_output: ModelOutput | None
    model_error: str | None
    action: str
    intent: str | None
    confidence: float | None
    context_turn_index: int | None
    reply: str


@dataclasses.dataclass(frozen=True)
class Event:
    conversation_id: str
    turn_id: str | None
    timestamp: str
    type: str
    reason: str | None
    detail: str | None


def new_conversation_id() -> str:
    # Also the log's session_id: [A-Za-z0-9][A-Za-z0-9._:-]*.
    return "c" + uuid.uuid4().hex[:20]


class ConversationStore:
    """One SQLite file; a connection per operation, writes serialized by a lock."""

    def __init__(self, path: str):
        self.path = path
        if os.path.dirname(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
        self._write_lock = threading.Lock()
        with self._connect() as db:
            db.executescript(_SCHEMA)

    @contextlib.contextmanager
    def _connect(self):
        db = sqlite3.connect(self.path, timeout=30)
        db.row_factory = sqlite3.Row
        try:
            with db:  # commit on success, roll back on error
                yield db
        finally:
            db.close()

    # === Conversations ===

    def create(self, channel: str, created_at: str) -> Conversation:
        conversation = Conversation(new_conversation_id(), created_at, channel, None, None)
        with self._write_lock, self._connect() as db:
            db.execute(
                "INSERT INTO conversations (id, created_at, channel) VALUES (?, ?, ?)",
                (conversation.id, created_at, channel),
            )
        return conversation

    def get(self, conversation_id: str) -> Conversation:
        """Raises UnknownConversation."""
        with self._connect() as db:
            row = db.execute(
                "SELECT * FROM conversations WHERE id = ?", (conversation_id,)
            ).fetchone()
        if row is None:
            raise UnknownConversation(conversation_id)
        return Conversation(**dict(row))

    # === Turns and events ===

    def turns(self, conversation_id: str) -> list[Turn]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT * FROM turns WHERE conversation_id = ? ORDER BY turn_index",
                (conversation_id,),
            ).fetchall()
        turns = []
        for row in rows:
            values = dict(row)
            output = values.pop("model_output")
            turns.append(
                Turn(
                    model_output=ModelOutput(**_tuples(json.loads(output))) if output else None,
                    **values,
                )
            )
        return turns

    def events(self, conversation_id: str) -> list[Event]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT conversation_id, turn_id, timestamp, type, reason, detail FROM events "
                "WHERE conversation_id = ? ORDER BY id",
                (conversation_id,),
            ).fetchall()
        return [Event(**dict(row)) for row in rows]

    def next_turn_index(self, conversation_id: str) -> int:
        with self._connect() as db:
            row = db.execute(
                "SELECT COALESCE(MAX(turn_index) + 1, 0) FROM turns WHERE conversation_id = ?",
                (conversation_id,),
            ).fetchone()
        return int(row[0])

    def add_turn(self, turn: Turn, events: list[Event]) -> None:
        """Stores a turn with its events in one transaction; a handoff event marks the
        conversation as handed off (first handoff wins)."""
        output = json.dumps(turn.model_output.to_json()) if turn.model_output else None
        values = dataclasses.asdict(turn)
        values["model_output"] = output
        columns = ", ".join(values)
        placeholders = ", ".join("?" for _ in values)
        with self._write_lock, self._connect() as db:
            db.execute(
                f"INSERT INTO turns ({columns}) VALUES ({placeholders})", tuple(values.values())
            )
            for event in events:
                db.execute(
                    "INSERT INTO events (conversation_id, turn_id, timestamp, type, reason, detail)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    dataclasses.astuple(event),
                )
                if event.type == HANDOFF_EVENT:
                    db.execute(
                        "UPDATE conversations SET handoff_reason = ?, handed_off_at = ? "
                        "WHERE id = ? AND handed_off_at IS NULL",
                        (event.reason, event.timestamp, event.conversation_id),
                    )


def _tuples(values: dict) -> dict:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
