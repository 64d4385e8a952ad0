"""`mmcs predict`: run a pushed SavedModel over a log folder, one prediction per turn.

Each record goes through the same conversion as ingestion (so attachments are normalised
exactly as at training time: PNG/JPEG pictures, 16 kHz mono WAV audio), then through the
model's `serving_default` signature, the one REST clients call.
"""

import collections
import dataclasses
import json
import os
from pathlib import Path

import numpy as np
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the tokenizer ops the SavedModel uses)

from components.log_example_gen import beam_ingest, quarantine
from components.log_example_gen.record_conversion import IngestLimits, convert_record
from models import derived_text_versions, features, signatures
from serving import n_best

BATCH_SIZE = 16
_REQUEST_KEYS = features.SERVING_INPUT_KEYS


@dataclasses.dataclass(frozen=True)
class TurnInputs:
    """The raw serving inputs of one converted turn ("" where a modality is absent)."""

    turn_id: str
    session_id: str
    source: str
    values: dict[str, bytes]
    modalities: str
    intent: str | None  # the logged label, when there is one
    language: str = features.DEFAULT_LANGUAGE  # the log's tag, as ingestion wrote it
    # Speech recognition's n-best transcripts of the audio (serving/n_best.py); empty
    # where the turn has no audio or they were not asked for: the turn is sent as it is.
    hypotheses: tuple = ()


def latest_version_dir(model_dir: str) -> str:
    """The SavedModel itself, or the newest numbered version under a model base dir."""
    if tf.io.gfile.exists(os.path.join(model_dir, "saved_model.pb")):
        return model_dir
    versions = [v for v in tf.io.gfile.listdir(model_dir) if v.strip("/").isdigit()]
    if not versions:
        raise FileNotFoundError(f"no SavedModel or numbered version folder in {model_dir}")
    return os.path.join(model_dir, max(versions, key=lambda v: int(v.strip("/"))).strip("/"))


def turn_inputs(
    log_dir: str,
    transcribe_speech: bool = True,
    read_image_text: bool = True,
    n_best_transcripts: bool = False,
) -> tuple[list[TurnInputs], list[quarantine.QuarantinedRecord]]:
    """Converts every record of a log folder; records that cannot be converted are returned
    apart with their reason, as ingestion would quarantine them. Voice turns get their
    transcript from the same speech recognizer as at ingestion (`transcribe_speech`) and,
    with `n_best_transcripts`, its n-best transcripts too; pictures get their text from the
    same OCR (`read_image_text`)."""
    recognizer = image_reader = None
    if transcribe_speech:
        from models import speech_recognition

        recognizer = speech_recognition.shared_recognizer()
    if read_image_text:
        from models import image_text_recognition

        image_reader = image_text_recognition.shared_reader()
    converted, rejected = [], []
    for path in beam_ingest.list_log_files(log_dir, ["*.jsonl"]):
        for source, folder, raw in beam_ingest.read_log_lines(path):
            if raw is None:
                continue
            try:
                turn = convert_record(source, folder, raw, IngestLimits(), recognizer, image_reader)
            except quarantine.RecordRejected as error:
                rejected.append(
                    quarantine.QuarantinedRecord(source, error.reason, error.detail, raw)
                )
                continue
            example = tf.train.Example.FromString(turn.serialized_example).features.feature
            values = {
                key: (example[key].bytes_list.value[0] if key in example else b"")
                for key in _REQUEST_KEYS
            }
            present = [k for k in features.MODALITY_COMBINATION_ORDER if values[k]]
            intent = (
                example[features.INTENT_KEY].bytes_list.value
                if features.INTENT_KEY in example
                else []
            )
            converted.append(
                TurnInputs(
                    turn_id=turn.turn_id,
                    session_id=turn.session_id,
                    source=source,
                    values=values,
                    modalities=features.MODALITY_SEPARATOR.join(present),
                    intent=intent[0].decode() if intent else None,
                    language=example[features.LANGUAGE_KEY].bytes_list.value[0].decode(),
                )
            )
    if n_best_transcripts and recognizer is not None:
        converted = with_n_best(converted, recognizer)
    return converted, rejected


def with_n_best(turns: list[TurnInputs], recognizer=None) -> list[TurnInputs]:
    """The turns, those with audio given speech recognition's n-best transcripts."""
    if recognizer is None and any(turn.values[features.AUDIO_KEY] for turn in turns):
        from models import speech_recognition

        recognizer = speech_recognition.shared_recognizer()
    return [
        dataclasses.replace(
            turn,
            hypotheses=tuple(recognizer.hypotheses(turn.values[features.AUDIO_KEY], turn.language)),
        )
        if turn.values[features.AUDIO_KEY]
        else turn
        for turn in turns
    ]


def hypothesis_rows(turn: TurnInputs) -> list[tuple[dict[str, bytes], float]]:
    """The raw inputs a turn is sent as, with their weights: one row per row of
    `n_best.transcript_rows` (the turn as it is when it has no n-best transcripts)."""
    return [
        (
            turn.values
            if text is None
            else {**turn.values, features.TRANSCRIPT_KEY: text.encode()},
            w,
        )
        for text, w in n_best.transcript_rows(turn.hypotheses)
    ]


class Predictor:
    """Calls a SavedModel's serving_default signature on batches of turns.

    Models pushed before a derived input existed (the transcript, the image text) have
    fewer inputs; each model is fed the inputs its signature names.
    """

    def __init__(self, model_dir: str):
        self.version_dir = latest_version_dir(model_dir)
        self._loaded = tf.saved_model.load(self.version_dir)
        self._serve = self._loaded.signatures[signatures.SERVING_DEFAULT]
        accepted = set(self._serve.structured_input_signature[1])
        unknown = accepted - set(_REQUEST_KEYS)
        if unknown:
            raise ValueError(
                f"{self.version_dir}: serving_default takes inputs {sorted(unknown)} that "
                f"turns do not have (known: {list(_REQUEST_KEYS)})"
            )
        self.input_keys = [key for key in _REQUEST_KEYS if key in accepted]

    def predict(self, turns: list[TurnInputs]) -> list[dict]:
        """One JSON-able prediction per turn, in order. A turn with n-best transcripts is
        sent once per hypothesis and answered with their combination (serving/n_best.py)."""
        rows, owners, weights = [], [], []
        for index, turn in enumerate(turns):
            for values, weight in hypothesis_rows(turn):
                rows.append(values)
                owners.append(index)
                weights.append(weight)
        answers = self._answers(rows)
        grouped = collections.defaultdict(list)
        for owner, answer, weight in zip(owners, answers, weights, strict=True):
            grouped[owner].append((answer, weight))
        return [
            {
                "turn_id": turn.turn_id,
                "modalities": turn.modalities,
                **n_best.combine([a for a, _ in grouped[i]], [w for _, w in grouped[i]]),
            }
            for i, turn in enumerate(turns)
        ]

    def _answers(self, rows: list[dict]) -> list[dict]:
        """`serving_default`'s outputs for each row of raw inputs, as JSON values."""
        results = []
        for start in range(0, len(rows), BATCH_SIZE):
            batch = rows[start : start + BATCH_SIZE]
            outputs = self._serve(
                **{key: tf.constant([row[key] for row in batch]) for key in self.input_keys}
            )
            outputs = {key: value.numpy() for key, value in outputs.items()}
            results.extend(
                {key: _json_value(value[index]) for key, value in outputs.items()}
                for index in range(len(batch))
            )
        return results


def _json_value(value):
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.ndarray):
        return [round(float(v), 6) for v in value]
    if isinstance(value, np.bool_):
        return bool(value)
    return round(float(value), 6)


def predict_folder(model_dir: str, log_dir: str, out_file: str, use_n_best: bool = True) -> dict:
    """Writes one JSON line per convertible turn; returns counts. Turns with audio are
    answered over speech recognition's n-best transcripts (`use_n_best`), as the chat
    service answers them.

    Raises:
      ValueError: the model was trained on transcripts or picture texts of other
        recognizers than this machine's (models/derived_text_versions.py).
    """
    predictor = Predictor(model_dir)
    derived_text_versions.check_model(predictor.version_dir)
    turns, rejected = turn_inputs(log_dir, n_best_transcripts=use_n_best)
    predictions = predictor.predict(turns)
    Path(out_file).parent.mkdir(parents=True, exist_ok=True)
    with open(out_file, "w", encoding="utf-8") as out:
        for prediction in predictions:
            out.write(json.dumps(prediction) + "\n")
    return {
        "predicted": len(predictions),
        "rejected": len(rejected),
        "rejected_per_reason": dict(
            sorted(collections.Counter(r.reason for r in rejected).items())
        ),
    }
