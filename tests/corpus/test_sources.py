"""Reading the reference corpora: label sets, splits and clear errors."""

import pytest

import schemas
from corpus import sources
from models import features
from tests.shared_data import BANKING77_TRAIN, SHARED_DATA, requires_shared_data


@requires_shared_data
def test_banking77_rows_use_the_contract_intents():
    rows = sources.read_banking77(BANKING77_TRAIN)
    assert len(rows) == 10_003
    assert {r.intent for r in rows} == set(schemas.intent_labels()) - {features.OUT_OF_SCOPE_INTENT}


@requires_shared_data
def test_out_of_scope_train_and_test_are_disjoint():
    train = {r.text for r in sources.read_out_of_scope(SHARED_DATA, "train")}
    test = {r.text for r in sources.read_out_of_scope(SHARED_DATA, "test")}
    assert len(train) > 150 and len(test) > 400
    assert not train & test


@requires_shared_data
def test_sentiment_split_is_disjoint_and_about_80_20():
    train = sources.read_sentiment(SHARED_DATA, "train")
    test = sources.read_sentiment(SHARED_DATA, "test")
    assert not {r.text for r in train} & {r.text for r in test}
    assert len(test) / (len(train) + len(test)) == pytest.approx(0.2, abs=0.02)
    assert {r.sentiment for r in train} == set(schemas.sentiment_labels())
    assert all(len(r.text.split()) <= sources.MAX_SENTIMENT_WORDS for r in train)


@pytest.mark.parametrize(
    "rating,label",
    [
        (-2.5, "negative"),
        (-1.0, "negative"),
        (-0.7, None),
        (0.2, "neutral"),
        (0.5, None),
        (1.0, "positive"),
        (3.1, "positive"),
    ],
)
def test_sentiment_cutoffs(rating, label):
    assert sources.sentiment_class(rating) == label


def test_csv_with_unknown_category_names_the_line(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("text,category\nhello,card_arrival\nbuy a boat,boats\n")
    with pytest.raises(sources.SourceDataError, match=r"bad.csv:3: category 'boats'"):
        sources.read_banking77(path)


def test_csv_with_wrong_columns(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("sentence,label\nhello,card_arrival\n")
    with pytest.raises(sources.SourceDataError, match="expected columns text,category"):
        sources.read_banking77(path)


def test_missing_shared_data_is_a_clear_error(tmp_path):
    with pytest.raises(sources.SourceDataError, match="CLINC150 queries not found"):
        sources.read_out_of_scope(tmp_path, "train")
