"""Disk cache of text derived from attachments (speech transcripts, text read in pictures).

Recognizers are deterministic for a model version and settings, so their output is kept
by the attachment's content hash: re-ingesting the same attachments (a window of spans, a
re-run, a benchmark's second model) costs a file read per attachment instead of a model
call. Entries are written to a temporary name and renamed, so concurrent Beam workers
never read half an entry.
"""

import hashlib
import os
import threading
from pathlib import Path

# MMCS_CACHE_DIR overrides ~/.cache/mmcs (models joined from packages, derived texts).
CACHE_ENV = "MMCS_CACHE_DIR"
# The folders of cache_root() holding derived texts (the rest holds joined models).
TRANSCRIPTS_FOLDER = "transcripts"
IMAGE_TEXTS_FOLDER = "image_texts"
DERIVED_TEXT_FOLDERS = (TRANSCRIPTS_FOLDER, IMAGE_TEXTS_FOLDER)


def cache_root() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "mmcs")


def content_key(data: bytes) -> str:
    """Content key of an attachment (sha256 hex)."""
    return hashlib.sha256(data).hexdigest()


class DerivedTextCache:
    """Texts under `folder`, one file per (attachment content, variant).

    Args:
        folder: the cache folder; name it by the model version and the settings that change
            the output, so a new model never reads an old model's texts.
    """

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def path(self, data: bytes, variant: str) -> Path:
        key = content_key(data)
        return self.folder / key[:2] / f"{key}-{variant}.txt"

    def get(self, data: bytes, variant: str) -> str | None:
        """The cached text, or None when this attachment has not been read yet."""
        path = self.path(data, variant)
        return path.read_text(encoding="utf-8") if path.exists() else None

    def put(self, data: bytes, variant: str, text: str) -> None:
        path = self.path(data, variant)
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
        staging.write_text(text, encoding="utf-8")
        os.replace(staging, path)
