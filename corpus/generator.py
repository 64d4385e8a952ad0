"""`mmcs corpus`: renders a multimodal customer-service log folder from real text corpora.

Output layout (the raw log format of schemas/raw_turn.schema.json):
  <out>/turns-00000.jsonl ...     one JSON object per turn, 500 turns per file
  <out>/attachments/<turn_id>.<ext>
  <out>/corpus.json               configuration, counts per modality combination, credits
"""

import collections
import dataclasses
import json
import multiprocessing
import random
import shutil
from pathlib import Path

from corpus import images, session_plan, sources, speech
from models import features

TURNS_PER_FILE = 500
MANIFEST_FILE = "corpus.json"
CREDITS = {
    "banking77": "Casanueva et al. 2020, Efficient Intent Detection with Dual Sentence "
    "Encoders (CC-BY-4.0)",
    "clinc150": "Larson et al. 2019, An Evaluation Dataset for Intent Classification and "
    "Out-of-Scope Prediction (CC-BY-3.0)",
    "sentiment": "Hutto & Gilbert 2014, VADER (MIT)",
}


@dataclasses.dataclass(frozen=True)
class CorpusConfig:
    """What to generate.

    Attributes:
      size: about how many turns; None renders every row of the BANKING77 CSV.
      seed: the same seed and inputs give the same corpus.
      split: "train" or "test": picks the out-of-scope and sentiment partitions and the
        speakers (held-out voices for test).
      compact: small pictures and low-rate audio (the sample committed to git).
      workers: processes rendering pictures and speech.
      typed_copies: also type every query the plan gives as voice, a picture or a vague
        line, as a chat follow-up in the same session (`session_plan._typed_copies`). A
        training-data choice: the published BANKING77 figures train on every query typed.
    """

    size: int | None = None
    seed: int = 0
    split: str = "train"
    compact: bool = False
    workers: int = 2
    typed_copies: bool = False


def _speakers(split: str) -> tuple[speech.Speaker, ...]:
    return speech.HELDOUT_SPEAKERS if split == "test" else speech.TRAIN_SPEAKERS


def _render(job: tuple[session_plan.PlannedTurn, str, bool, str]) -> dict:
    """Renders one planned turn's attachments and returns its log record."""
    turn, out, compact, split = job
    rng = random.Random(turn.render_seed)
    record = {
        features.TURN_ID_KEY: turn.turn_id,
        features.SESSION_ID_KEY: turn.session_id,
        features.TURN_INDEX_KEY: turn.turn_index,
        features.TIMESTAMP_KEY: turn.timestamp,
        features.CHANNEL_KEY: turn.channel,
    }
    if turn.language is not None:
        record[features.LANGUAGE_KEY] = turn.language
    record[features.TEXT_KEY] = turn.text
    record[features.IMAGE_KEY] = None
    record[features.AUDIO_KEY] = None
    attachments = Path(out) / "attachments"
    if turn.image is not None:
        if turn.image == "evidence":
            picture = images.render_evidence(turn.intent, rng, compact=compact)
        else:
            picture = images.render_unrelated_photo(rng, compact=compact)
        name = f"attachments/{turn.turn_id}.{picture.extension}"
        (attachments / Path(name).name).write_bytes(picture.data)
        record[features.IMAGE_KEY] = name
    if turn.spoken_text is not None:
        speakers = _speakers(split)
        audio = speech.synthesize(
            turn.spoken_text, rng, speakers=[speakers[turn.speaker_index]], compact=compact
        )
        name = f"attachments/{turn.turn_id}.{audio.extension}"
        (attachments / Path(name).name).write_bytes(audio.data)
        record[features.AUDIO_KEY] = name
    record[features.INTENT_KEY] = turn.intent
    record[features.SENTIMENT_KEY] = turn.sentiment
    return record


def plan_corpus(
    banking77_csv: str | Path, shared_data: str | Path, config: CorpusConfig
) -> list[session_plan.PlannedTurn]:
    """Every turn of the corpus `config` describes, before rendering: what each turn's
    text, picture and voice are, and what its voice says (`spoken_text`).

    Raises:
      sources.SourceDataError: a reference corpus is missing or malformed.
    """
    if config.split not in sources.SPLITS:
        raise ValueError(f"split must be one of {sources.SPLITS}, got {config.split!r}")
    rng = random.Random(f"{config.seed}:{config.split}:contents")
    contents = session_plan.select_contents(
        sources.read_banking77(banking77_csv),
        sources.read_sentiment(shared_data, config.split),
        sources.read_out_of_scope(shared_data, config.split),
        config.size,
        rng,
    )
    return session_plan.plan_sessions(
        contents,
        config.split,
        config.seed,
        len(_speakers(config.split)),
        typed_copies=config.typed_copies,
    )


def generate_corpus(
    banking77_csv: str | Path, shared_data: str | Path, out: str | Path, config: CorpusConfig
) -> dict:
    """Writes a log folder and returns its manifest (also written as corpus.json).

    Raises:
      sources.SourceDataError: a reference corpus is missing or malformed.
      speech.SpeechToolsMissingError: espeak-ng (or Piper for test) is not installed.
    """
    turns = plan_corpus(banking77_csv, shared_data, config)
    speech.require_speech_tools(_speakers(config.split))

    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    (out / "attachments").mkdir(parents=True)
    jobs = [(turn, str(out), config.compact, config.split) for turn in turns]
    if config.workers > 1:
        with multiprocessing.get_context("fork").Pool(config.workers) as pool:
            records = pool.map(_render, jobs, chunksize=16)
    else:
        records = [_render(job) for job in jobs]

    for start in range(0, len(records), TURNS_PER_FILE):
        lines = [json.dumps(r, ensure_ascii=False) for r in records[start : start + TURNS_PER_FILE]]
        path = out / f"turns-{start // TURNS_PER_FILE:05d}.jsonl"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    manifest = {
        "config": dataclasses.asdict(config) | {"banking77_csv": Path(banking77_csv).name},
        "turns": len(turns),
        "sessions": len({t.session_id for t in turns}),
        "modalities": dict(collections.Counter(t.modalities for t in turns).most_common()),
        "channels": dict(collections.Counter(t.channel for t in turns).most_common()),
        "labels": {
            "intent": sum(t.intent is not None for t in turns),
            "out_of_scope": sum(t.intent == features.OUT_OF_SCOPE_INTENT for t in turns),
            "sentiment": dict(
                collections.Counter(t.sentiment for t in turns if t.sentiment).most_common()
            ),
        },
        "bytes": sum(p.stat().st_size for p in out.rglob("*") if p.is_file()),
        "credits": CREDITS,
    }
    (out / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest
