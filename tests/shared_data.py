"""Location of the reference corpora (../shared/data beside the repository)."""

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
BANKING77_TRAIN = SHARED_DATA / "banking77" / "train.csv"

requires_shared_data = pytest.mark.skipif(
    not BANKING77_TRAIN.exists(), reason=f"reference corpora not found at {SHARED_DATA}"
)
