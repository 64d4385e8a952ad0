"""Rendering a corpus with typed copies: the log folder holds every planned turn, and the
turns the copies were added to render exactly as without them."""

import json

from corpus import generator
from models import features
from tests.shared_data import BANKING77_TRAIN, SHARED_DATA, requires_shared_data


def _records(folder):
    records = []
    for path in sorted(folder.glob("turns-*.jsonl")):
        records += [json.loads(line) for line in path.read_text().splitlines()]
    return {record[features.TURN_ID_KEY]: record for record in records}


@requires_shared_data
def test_typed_copies_add_chat_turns_and_leave_the_rest_byte_identical(tmp_path):
    settings = dict(size=40, seed=3, compact=True, workers=1)
    plain = generator.generate_corpus(
        BANKING77_TRAIN, SHARED_DATA, tmp_path / "plain", generator.CorpusConfig(**settings)
    )
    typed = generator.generate_corpus(
        BANKING77_TRAIN,
        SHARED_DATA,
        tmp_path / "typed",
        generator.CorpusConfig(**settings, typed_copies=True),
    )
    assert typed["config"]["typed_copies"] is True
    assert typed["sessions"] == plain["sessions"]
    plain_records, typed_records = _records(tmp_path / "plain"), _records(tmp_path / "typed")
    assert len(typed_records) == typed["turns"] > plain["turns"] == len(plain_records)
    for turn_id, record in plain_records.items():
        assert typed_records[turn_id] == record
        for key in (features.IMAGE_KEY, features.AUDIO_KEY):
            if record[key]:
                rendered = tmp_path / "typed" / record[key]
                assert rendered.read_bytes() == (tmp_path / "plain" / record[key]).read_bytes()
    copies = [r for turn_id, r in typed_records.items() if turn_id not in plain_records]
    assert copies and all(
        r[features.TEXT_KEY] and r[features.IMAGE_KEY] is None and r[features.AUDIO_KEY] is None
        for r in copies
    )
    assert typed["modalities"]["text"] == plain["modalities"].get("text", 0) + len(copies)
