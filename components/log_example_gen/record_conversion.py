"""One raw log line to a tf.Example, or to a quarantine reason: no Beam in here."""

import dataclasses
import datetime
import json
import posixpath
import unicodedata

import jsonschema
import tensorflow as tf

import schemas
from components.log_example_gen import quarantine
from components.log_example_gen.audio_normalization import normalize_audio
from components.log_example_gen.image_normalization import normalize_image
from models import features


@dataclasses.dataclass(frozen=True)
class IngestLimits:
    """Payload limits; anything over them is quarantined rather than ingested."""

    max_record_bytes: int = 64 * 1024
    max_attachment_bytes: int = 20 * 1024 * 1024


@dataclasses.dataclass(frozen=True)
class ConvertedTurn:
    """A log record that passed every check."""

    source: str
    turn_id: str
    session_id: str
    serialized_example: bytes


# Which quarantine reason a JSON Schema violation of a field maps to.
_FIELD_REASONS = {
    features.CHANNEL_KEY: quarantine.UNKNOWN_CHANNEL,
    features.INTENT_KEY: quarantine.UNKNOWN_INTENT,
    features.SENTIMENT_KEY: quarantine.UNKNOWN_SENTIMENT,
}


def _validator() -> jsonschema.protocols.Validator:
    schema = schemas.raw_turn_schema()
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, format_checker=None)


_VALIDATOR = _validator()


def _schema_violation(record: dict) -> quarantine.RecordRejected | None:
    errors = sorted(_VALIDATOR.iter_errors(record), key=lambda e: list(e.path))
    if not errors:
        return None
    error = errors[0]
    if error.validator == "required":
        missing = [f for f in error.validator_value if f not in record]
        return quarantine.RecordRejected(
            quarantine.MISSING_FIELD, f"required field(s) {missing} missing"
        )
    if error.validator == "type" and not error.path:
        return quarantine.RecordRejected(quarantine.NOT_AN_OBJECT, "record is not a JSON object")
    field = str(error.path[0]) if error.path else "<record>"
    reason = _FIELD_REASONS.get(field, quarantine.INVALID_FIELD)
    value = json.dumps(error.instance, ensure_ascii=False)[:80]
    expected = error.message if reason == quarantine.INVALID_FIELD else "not in the label set"
    return quarantine.RecordRejected(reason, f"field {field!r}: {value} is {expected}")


def _parse_timestamp(value: str) -> int:
    try:
        parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as error:
        raise quarantine.RecordRejected(
            quarantine.INVALID_TIMESTAMP,
            f"field 'timestamp': {value!r} is not an RFC 3339 date-time",
        ) from error
    if parsed.tzinfo is None:
        raise quarantine.RecordRejected(
            quarantine.INVALID_TIMESTAMP,
            f"field 'timestamp': {value!r} has no UTC offset (e.g. end it with Z)",
        )
    return int(parsed.timestamp())


def _attachment_path(folder: str, relative: str, field: str) -> str:
    normalized = posixpath.normpath(relative)
    if (
        posixpath.isabs(relative)
        or "\\" in relative
        or "://" in relative
        or normalized == ".."
        or normalized.startswith("../")
    ):
        raise quarantine.RecordRejected(
            quarantine.UNSAFE_ATTACHMENT_PATH,
            f"field {field!r}: {relative!r} must be a relative path inside the log folder",
        )
    return posixpath.join(folder, normalized)


def _read_attachment(folder: str, relative: str, field: str, limits: IngestLimits) -> bytes:
    path = _attachment_path(folder, relative, field)
    if not tf.io.gfile.exists(path):
        raise quarantine.RecordRejected(
            quarantine.MISSING_ATTACHMENT, f"field {field!r}: file {relative!r} not found"
        )
    size = tf.io.gfile.stat(path).length
    if size > limits.max_attachment_bytes:
        raise quarantine.RecordRejected(
            quarantine.OVERSIZED_ATTACHMENT,
            f"field {field!r}: {relative!r} is {size} bytes, over {limits.max_attachment_bytes}",
        )
    with tf.io.gfile.GFile(path, "rb") as attachment:
        return attachment.read()


def _bytes_feature(value: bytes) -> tf.train.Feature:
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def _int_feature(value: int) -> tf.train.Feature:
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))


def parse_record(raw: bytes, limits: IngestLimits) -> dict:
    """Decodes and structurally validates one log line.

    Raises:
      quarantine.RecordRejected: for every way the line can be malformed.
    """
    if len(raw) > limits.max_record_bytes:
        raise quarantine.RecordRejected(
            quarantine.OVERSIZED_RECORD,
            f"record is {len(raw)} bytes, over {limits.max_record_bytes}",
        )
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise quarantine.RecordRejected(
            quarantine.NON_UTF8, f"record is not UTF-8 (byte {error.start})"
        ) from error
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise quarantine.RecordRejected(quarantine.INVALID_JSON, str(error)) from error
    if not isinstance(record, dict):
        raise quarantine.RecordRejected(
            quarantine.NOT_AN_OBJECT, f"record is a JSON {type(record).__name__}, not an object"
        )
    text = record.get(features.TEXT_KEY)
    has_text = isinstance(text, str) and text.strip() != ""
    if not has_text and not any(record.get(key) for key in features.ATTACHMENT_KEYS):
        raise quarantine.RecordRejected(quarantine.EMPTY_TURN, "turn has no text, image or audio")
    violation = _schema_violation(record)
    if violation is not None:
        raise violation
    return record


def convert_record(
    source: str,
    folder: str,
    raw: bytes,
    limits: IngestLimits,
    recognizer=None,
    image_reader=None,
) -> ConvertedTurn:
    """Converts one raw log line into a serialized tf.Example.

    Args:
      source: "<file>:<line>", carried into errors and the quarantine.
      folder: the folder attachment paths are relative to.
      raw: the line's bytes, without the line break.
      limits: payload limits.
      recognizer: a `models.speech_recognition.SpeechRecognizer` (anything with its
        `transcribe(wav_bytes, language)`); when given, a voice turn gets the
        transcript of its audio as `features.TRANSCRIPT_KEY`.
      image_reader: a `models.image_text_recognition.ImageTextReader` (anything with its
        `read(image_bytes)`); when given, a turn with a picture gets the text written in
        it as `features.IMAGE_TEXT_KEY`.

    Raises:
      quarantine.RecordRejected: the record must be quarantined.
    """
    record = parse_record(raw, limits)
    language = record.get(features.LANGUAGE_KEY) or features.DEFAULT_LANGUAGE
    feature = {
        features.TURN_ID_KEY: _bytes_feature(record[features.TURN_ID_KEY].encode()),
        features.SESSION_ID_KEY: _bytes_feature(record[features.SESSION_ID_KEY].encode()),
        features.TURN_INDEX_KEY: _int_feature(record[features.TURN_INDEX_KEY]),
        features.TIMESTAMP_KEY: _int_feature(_parse_timestamp(record[features.TIMESTAMP_KEY])),
        features.CHANNEL_KEY: _bytes_feature(record[features.CHANNEL_KEY].encode()),
        features.LANGUAGE_KEY: _bytes_feature(language.encode()),
    }

    text = record.get(features.TEXT_KEY)
    has_text = isinstance(text, str) and text.strip() != ""
    if has_text:
        # NFC so that the same words typed on different keyboards tokenize the same.
        normalized = unicodedata.normalize("NFC", " ".join(text.split()))
        feature[features.TEXT_KEY] = _bytes_feature(normalized.encode("utf-8"))
    feature[features.HAS_TEXT_KEY] = _int_feature(int(has_text))

    image_path = record.get(features.IMAGE_KEY)
    if image_path:
        data = _read_attachment(folder, image_path, features.IMAGE_KEY, limits)
        image = normalize_image(data, image_path)
        feature[features.IMAGE_KEY] = _bytes_feature(image)
        if image_reader is not None:
            image_text = image_reader.read(image)
            if image_text:
                feature[features.IMAGE_TEXT_KEY] = _bytes_feature(image_text.encode("utf-8"))
    feature[features.HAS_IMAGE_KEY] = _int_feature(int(bool(image_path)))

    audio_path = record.get(features.AUDIO_KEY)
    if audio_path:
        data = _read_attachment(folder, audio_path, features.AUDIO_KEY, limits)
        wav, duration = normalize_audio(data, audio_path)
        feature[features.AUDIO_KEY] = _bytes_feature(wav)
        feature[features.AUDIO_DURATION_KEY] = tf.train.Feature(
            float_list=tf.train.FloatList(value=[duration])
        )
        if recognizer is not None:
            transcript = recognizer.transcribe(wav, language)
            if transcript:
                feature[features.TRANSCRIPT_KEY] = _bytes_feature(transcript.encode("utf-8"))
    feature[features.HAS_AUDIO_KEY] = _int_feature(int(bool(audio_path)))

    for key in features.LABEL_KEYS:
        if record.get(key) is not None:
            feature[key] = _bytes_feature(record[key].encode())

    example = tf.train.Example(features=tf.train.Features(feature=feature))
    return ConvertedTurn(
        source=source,
        turn_id=record[features.TURN_ID_KEY],
        session_id=record[features.SESSION_ID_KEY],
        serialized_example=example.SerializeToString(),
    )


def turn_id_of(raw: bytes) -> str | None:
    """Best-effort turn_id of a rejected line, for the quarantine report."""
    try:
        record = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    value = record.get(features.TURN_ID_KEY) if isinstance(record, dict) else None
    return value if isinstance(value, str) else None
