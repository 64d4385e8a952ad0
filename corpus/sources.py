"""Readers of the reference corpora in ../shared/data, with clear errors when missing.

BANKING77 (Casanueva et al. 2020, CC-BY-4.0): customer queries with 77 intents.
CLINC150 out-of-scope queries (Larson et al. 2019, CC-BY-3.0): the out_of_scope class.
VADER ground truth (Hutto & Gilbert 2014, MIT): sentences with mean human sentiment
ratings in [-4, 4], mapped to three classes by SENTIMENT_CUTOFFS.
"""

import csv
import dataclasses
import hashlib
import json
from pathlib import Path

import schemas
from models import features

SENTIMENT_FILES = (
    "amazonReviewSnippets_GroundTruth.txt",
    "movieReviewSnippets_GroundTruth.txt",
    "tweets_GroundTruth.txt",
)
# Mean rating <= -1 is negative, >= 1 positive, strictly within +-0.5 neutral. Ratings in
# between are left out: raters did not agree clearly enough for a three-class label.
SENTIMENT_CUTOFFS = {"negative_at_most": -1.0, "positive_at_least": 1.0, "neutral_within": 0.5}
# Customer messages are short; longer review snippets are left out, and so are one-word
# snippets ("!") that say nothing a model could learn from.
MIN_SENTIMENT_WORDS = 2
MAX_SENTIMENT_WORDS = 40
# The sentiment sentences have no official split: a stable hash of the text assigns 20 %
# of them to test, so the evaluation corpus never repeats a training sentence.
SENTIMENT_TEST_PERCENT = 20
# CLINC150's out-of-scope splits: train and validation queries for training, test for test.
OUT_OF_SCOPE_SPLITS = {"train": ("oos_train", "oos_val"), "test": ("oos_test",)}
SPLITS = ("train", "test")


class SourceDataError(ValueError):
    """A reference corpus is missing or not in the expected format."""


@dataclasses.dataclass(frozen=True)
class LabelledText:
    """A sentence with its intent or sentiment label (the other one is None)."""

    text: str
    intent: str | None = None
    sentiment: str | None = None


def _require(path: Path, what: str) -> Path:
    if not path.exists():
        raise SourceDataError(
            f"{what} not found at {path}; pass the folder holding the reference corpora "
            f"(../shared/data in this project's layout)"
        )
    return path


def read_banking77(csv_path: str | Path) -> list[LabelledText]:
    """Rows of a CSV with `text,category` columns, categories checked against the contract."""
    path = _require(Path(csv_path), "BANKING77-style CSV")
    known = set(schemas.intent_labels())
    rows = []
    with path.open(newline="", encoding="utf-8") as csv_file:
        reader = csv.DictReader(csv_file)
        if not reader.fieldnames or not {"text", "category"} <= set(reader.fieldnames):
            raise SourceDataError(
                f"{path}: expected columns text,category; found {reader.fieldnames}"
            )
        for line, row in enumerate(reader, start=2):
            text, category = (row["text"] or "").strip(), (row["category"] or "").strip()
            if not text:
                raise SourceDataError(f"{path}:{line}: empty text")
            if category not in known:
                raise SourceDataError(
                    f"{path}:{line}: category {category!r} is not an intent of the contract"
                )
            rows.append(LabelledText(text=text, intent=category))
    if not rows:
        raise SourceDataError(f"{path}: no rows")
    return rows


def read_out_of_scope(shared_data: str | Path, split: str) -> list[LabelledText]:
    """CLINC150 out-of-scope queries for a split, labelled out_of_scope."""
    path = _require(Path(shared_data) / "clinc150" / "out_of_scope.json", "CLINC150 queries")
    data = json.loads(path.read_text(encoding="utf-8"))
    texts = [text for key in OUT_OF_SCOPE_SPLITS[split] for text in data[key]]
    return [LabelledText(text=t.strip(), intent=features.OUT_OF_SCOPE_INTENT) for t in texts]


def sentiment_class(rating: float) -> str | None:
    """The three-class label of a mean rating, or None when it is ambiguous."""
    if rating <= SENTIMENT_CUTOFFS["negative_at_most"]:
        return "negative"
    if rating >= SENTIMENT_CUTOFFS["positive_at_least"]:
        return "positive"
    if abs(rating) < SENTIMENT_CUTOFFS["neutral_within"]:
        return "neutral"
    return None


def _sentiment_split(text: str) -> str:
    # By text, not by id: a few sentences occur in more than one file.
    digest = hashlib.sha256(text.lower().encode()).digest()
    return "test" if int.from_bytes(digest[:4], "big") % 100 < SENTIMENT_TEST_PERCENT else "train"


def read_sentiment(shared_data: str | Path, split: str) -> list[LabelledText]:
    """Human-rated sentences of a split with unambiguous three-class labels."""
    folder = _require(Path(shared_data) / "sentiment", "VADER sentiment ground truth")
    sentences = []
    seen = set()
    for name in SENTIMENT_FILES:
        path = _require(folder / name, "VADER sentiment file")
        with path.open(encoding="utf-8", errors="replace") as ratings:
            for line_number, line in enumerate(ratings, start=1):
                parts = line.rstrip("\r\n").split("\t")
                if len(parts) != 3:
                    raise SourceDataError(f"{path}:{line_number}: expected id, rating, text")
                _, rating, text = parts
                label = sentiment_class(float(rating))
                text = " ".join(text.replace("&amp;", "&").split())
                if (
                    label is None
                    or not MIN_SENTIMENT_WORDS <= len(text.split()) <= MAX_SENTIMENT_WORDS
                    or text.lower() in seen
                    or _sentiment_split(text) != split
                ):
                    continue
                seen.add(text.lower())
                sentences.append(LabelledText(text=text, sentiment=label))
    return sentences
