"""`TrafficLog`: every served turn, appended to a log folder in the pipeline's raw format.

The folder is a log folder the pipeline reads as it is (`mmcs run --logs DIR`):

    DIR/chat-2026-11-22.jsonl                 one raw turn per line (README, "The raw log format")
    DIR/attachments/2026-11-22/<turn_id>.png  pictures (PNG or JPEG, as the model saw them)
    DIR/attachments/2026-11-22/<turn_id>.wav  audio (16 kHz mono WAV, as the model heard it)

Production turns are unlabelled: the model's answer goes in the extra field `chat` (the
ingestion ignores extra fields), never in `intent`/`sentiment`, so the next training run
does not learn the model's own guesses as labels.
"""

import json
import os
import posixpath
import threading

from models import features
from serving.chat.media import Attachment

LOG_FILE_PREFIX = "chat-"
ATTACHMENTS_DIR = "attachments"
SERVICE_FIELD = "chat"


class TrafficLog:
    """Appends turns to `log_dir`; safe to call from several threads."""

    def __init__(self, log_dir: str):
        self.log_dir = log_dir
        os.makedirs(log_dir, exist_ok=True)
        self._lock = threading.Lock()

    def save_attachment(self, turn_id: str, timestamp: str, attachment: Attachment) -> str:
        """Writes an attachment; returns its path relative to the log folder."""
        day = timestamp[:10]
        relative = posixpath.join(ATTACHMENTS_DIR, day, f"{turn_id}.{attachment.extension}")
        path = os.path.join(self.log_dir, *relative.split("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        # Written before the record that points at it, and atomically: ingestion never
        # sees a record whose attachment is missing or half written.
        partial = path + ".partial"
        with open(partial, "wb") as f:
            f.write(attachment.data)
        os.replace(partial, path)
        return relative

    def append(
        self,
        *,
        turn_id: str,
        session_id: str,
        turn_index: int,
        timestamp: str,
        channel: str,
        text: str,
        image: str | None,
        audio: str | None,
        service: dict,
    ) -> str:
        """Appends one raw turn record; returns the .jsonl file's path."""
        record = {
            features.TURN_ID_KEY: turn_id,
            features.SESSION_ID_KEY: session_id,
            features.TURN_INDEX_KEY: turn_index,
            features.TIMESTAMP_KEY: timestamp,
            features.CHANNEL_KEY: channel,
            features.LANGUAGE_KEY: features.DEFAULT_LANGUAGE,
            features.TEXT_KEY: text or None,
            features.IMAGE_KEY: image,
            features.AUDIO_KEY: audio,
            SERVICE_FIELD: service,
        }
        path = os.path.join(self.log_dir, f"{LOG_FILE_PREFIX}{timestamp[:10]}.jsonl")
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self._lock, open(path, "a", encoding="utf-8") as f:
            f.write(line)
        return path
