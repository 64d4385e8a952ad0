"""The data contracts agree with each other and the curated schema catches bad data."""

import json

import pandas as pd
import pytest
import tensorflow_data_validation as tfdv
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2

import schemas
from components.validation_gate import anomalies_report
from models import features
from pipeline.pipeline import load_custom_validations
from tests.shared_data import SHARED_DATA, requires_shared_data


@pytest.fixture(scope="module")
def tfdv_schema():
    return text_format.Parse(schemas.TFDV_SCHEMA_PATH.read_text(), schema_pb2.Schema())


def _domain(schema, name):
    return tuple(next(d for d in schema.string_domain if d.name == name).value)


def test_json_schema_and_tfdv_schema_share_the_value_sets(tfdv_schema):
    assert _domain(tfdv_schema, features.INTENT_KEY) == schemas.intent_labels()
    assert _domain(tfdv_schema, features.SENTIMENT_KEY) == schemas.sentiment_labels()
    assert _domain(tfdv_schema, features.CHANNEL_KEY) == schemas.channels()
    assert features.OUT_OF_SCOPE_INTENT in schemas.intent_labels()
    assert len(schemas.intent_labels()) == 78


@requires_shared_data
def test_intents_are_banking77_plus_out_of_scope():
    banking = json.loads((SHARED_DATA / "banking77" / "categories.json").read_text())
    assert schemas.intent_labels() == (*banking, features.OUT_OF_SCOPE_INTENT)


def test_tfdv_schema_names_only_feature_keys(tfdv_schema):
    assert sorted(f.name for f in tfdv_schema.feature) == sorted(features.RAW_FEATURE_KEYS)


def _frame(n=40, **overrides):
    rows = []
    for i in range(n):
        row = {
            features.TURN_ID_KEY: f"t{i}",
            features.SESSION_ID_KEY: f"s{i // 2}",
            features.TURN_INDEX_KEY: i % 2,
            features.TIMESTAMP_KEY: 1_790_000_000 + i,
            features.CHANNEL_KEY: ["chat", "app", "voice"][i % 3],
            features.LANGUAGE_KEY: "en",
            features.TEXT_KEY: f"text {i}" if i % 4 else None,
            features.HAS_TEXT_KEY: int(bool(i % 4)),
            features.IMAGE_KEY: b"png" if i % 5 == 0 else None,
            features.HAS_IMAGE_KEY: int(i % 5 == 0),
            features.AUDIO_KEY: b"wav" if i % 4 == 0 else None,
            features.HAS_AUDIO_KEY: int(i % 4 == 0),
            features.AUDIO_DURATION_KEY: 2.5 if i % 4 == 0 else None,
            features.INTENT_KEY: "card_arrival" if i % 2 else None,
            features.SENTIMENT_KEY: "negative" if i % 3 == 0 else None,
        }
        for key, value in overrides.items():
            row[key] = value(i) if callable(value) else value
        rows.append(row)
    return pd.DataFrame(rows)


def _anomalies(frame, tfdv_schema):
    stats = tfdv.generate_statistics_from_dataframe(frame)
    return tfdv.validate_statistics(
        stats,
        tfdv_schema,
        environment="TRAINING",
        custom_validation_config=load_custom_validations(str(schemas.CUSTOM_VALIDATIONS_PATH)),
    )


def test_clean_data_has_no_anomalies(tfdv_schema):
    anomalies = _anomalies(_frame(), tfdv_schema)
    assert not anomalies_report.has_anomalies(anomalies), anomalies_report.format_anomalies(
        {"x": anomalies}
    )


@pytest.mark.parametrize(
    "change,feature",
    [
        ({"drop": features.CHANNEL_KEY}, features.CHANNEL_KEY),
        ({features.CHANNEL_KEY: "fax"}, features.CHANNEL_KEY),
        ({features.INTENT_KEY: "buy_a_boat"}, features.INTENT_KEY),
        # A voice-only export: no text and no pictures any more.
        ({features.HAS_TEXT_KEY: 0, features.TEXT_KEY: None}, features.HAS_TEXT_KEY),
        ({features.HAS_IMAGE_KEY: 0, features.IMAGE_KEY: None}, features.HAS_IMAGE_KEY),
        ({features.HAS_AUDIO_KEY: 1, features.AUDIO_KEY: b"wav"}, features.HAS_AUDIO_KEY),
    ],
)
def test_broken_or_drifted_data_is_flagged(tfdv_schema, change, feature):
    drop = change.pop("drop", None)
    frame = _frame(**change)
    if drop:
        frame = frame.drop(columns=[drop])
    anomalies = _anomalies(frame, tfdv_schema)
    assert feature in anomalies.anomaly_info
    report = anomalies_report.format_anomalies({"train": anomalies})
    assert f"ERROR   {feature}:" in report
