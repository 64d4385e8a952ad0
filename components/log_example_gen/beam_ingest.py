"""The Beam pipeline that turns a log folder into split tf.Examples and a quarantine.

Used by the LogExampleGen executor and by `mmcs ingest`; both write the same layout:
  <examples_dir>/Split-<name>/data_tfrecord-*.gz
  <quarantine_dir>/quarantine.jsonl      one QuarantinedRecord per line, by source
  <quarantine_dir>/summary.json          counts: records in = examples out + quarantined
"""

import collections
import dataclasses
import json
import os
import posixpath
import uuid

import apache_beam as beam
import farmhash
import tensorflow as tf

from components.log_example_gen import quarantine
from components.log_example_gen.record_conversion import (
    IngestLimits,
    convert_record,
    turn_id_of,
)

QUARANTINE_FILE = "quarantine.jsonl"
SUMMARY_FILE = "summary.json"
EXAMPLES_FILE_PREFIX = "data_tfrecord"

_CONVERTED = "converted"
_QUARANTINED = "quarantined"


@dataclasses.dataclass(frozen=True)
class SplitSpec:
    """An output split and its share of sessions, in hash buckets (as in TFX's SplitConfig)."""

    name: str
    hash_buckets: int


# Two thirds of the sessions for training, one third for evaluation: TFX's default ratio.
DEFAULT_SPLITS = (SplitSpec("train", 2), SplitSpec("eval", 1))


class IngestError(RuntimeError):
    """The log folder cannot be ingested at all (no files, or nothing convertible)."""


def list_log_files(input_base: str, patterns: list[str]) -> list[str]:
    """Sorted paths of the .jsonl files matching glob patterns relative to input_base."""
    files: set[str] = set()
    for pattern in patterns:
        files.update(tf.io.gfile.glob(posixpath.join(input_base, pattern)))
    return sorted(f for f in files if not tf.io.gfile.isdir(f))


def split_of_session(session_id: str, splits: tuple[SplitSpec, ...]) -> int:
    """Index of the split a session belongs to: every turn of a session lands together."""
    bucket = farmhash.fingerprint64(session_id) % sum(s.hash_buckets for s in splits)
    for index, split in enumerate(splits):
        if bucket < split.hash_buckets:
            return index
        bucket -= split.hash_buckets
    raise AssertionError("unreachable: bucket beyond the split buckets")


def _source_order(source: str) -> tuple[str, int]:
    path, _, line = source.rpartition(":")
    return path, int(line)


def read_log_lines(path: str):
    """Yields (source "<file>:<line>", folder, raw line) per line of a .jsonl file; raw is
    None for a blank line (JSON Lines readers skip those: counted, not records)."""
    folder = posixpath.dirname(path)
    with tf.io.gfile.GFile(path, "rb") as log_file:
        for number, line in enumerate(log_file, start=1):
            raw = line.rstrip(b"\r\n")
            yield f"{path}:{number}", folder, (raw if raw.strip() else None)


def _is_blank(element) -> bool:
    return element[2] is None


def _keyed_by_turn_id(element):
    """(key, line): lines with the same turn_id share a key; a line whose turn_id cannot be
    read is keyed by its source, alone."""
    source, _, raw = element
    turn_id = turn_id_of(raw)
    return (("turn_id", turn_id) if turn_id is not None else ("source", source)), element


def _first_and_duplicates(keyed):
    """For one key: (line, None) for the first occurrence in (file, line) order, then
    (line, first source) for every later one."""
    _, lines = keyed
    ordered = sorted(lines, key=lambda line: _source_order(line[0]))
    yield ordered[0], None
    for later in ordered[1:]:
        yield later, ordered[0][0]


class _ConvertRecord(beam.DoFn):
    """Converts a line to (_CONVERTED, ConvertedTurn) or (_QUARANTINED, QuarantinedRecord).

    Duplicates are decided on the raw lines, before conversion (the lines of a turn_id
    are grouped; the first in (file, line) order is converted, later ones are set aside
    unconverted). The heavy payloads (decoded pictures and audio) then never cross a
    shuffle, so conversion and writing stay fused in the same worker. One tagged main
    output rather than Beam multi-outputs: Beam's Dask runner does not separate them.
    """

    def __init__(self, limits: IngestLimits, transcribe_speech: bool, read_image_text: bool):
        self._limits = limits
        self._transcribe_speech = transcribe_speech
        self._read_image_text = read_image_text
        self._recognizer = None
        self._image_reader = None

    def setup(self):
        if self._transcribe_speech:
            from models import speech_recognition

            self._recognizer = speech_recognition.shared_recognizer()
        if self._read_image_text:
            from models import image_text_recognition

            self._image_reader = image_text_recognition.shared_reader()

    def process(self, element_and_first):
        (source, folder, raw), first = element_and_first
        if first is not None:
            yield (
                _QUARANTINED,
                quarantine.QuarantinedRecord(
                    source=source,
                    reason=quarantine.DUPLICATE_TURN_ID,
                    detail=f"turn_id {turn_id_of(raw)!r} already seen at {first}",
                    raw=raw,
                    turn_id=turn_id_of(raw),
                ),
            )
            return
        try:
            yield (
                _CONVERTED,
                convert_record(
                    source, folder, raw, self._limits, self._recognizer, self._image_reader
                ),
            )
        except quarantine.RecordRejected as rejected:
            yield (
                _QUARANTINED,
                quarantine.QuarantinedRecord(
                    source=source,
                    reason=rejected.reason,
                    detail=rejected.detail,
                    raw=raw,
                    turn_id=turn_id_of(raw),
                ),
            )


def _tagged(tag: str):
    """The values of the (tag, value) pairs with this tag."""

    def select(tagged):
        if tagged[0] == tag:
            yield tagged[1]

    return select


def _in_split(index: int, splits: tuple[SplitSpec, ...]):
    def belongs(turn) -> bool:
        return split_of_session(turn.session_id, splits) == index

    return belongs


def _quarantine_lines(records: list[quarantine.QuarantinedRecord]) -> list[str]:
    return [r.to_json() for r in sorted(records, key=lambda r: _source_order(r.source))]


def _write_file(text: str, path: str) -> str:
    """Writes a whole small file (the quarantine, the summary) from one element; through a
    temporary name, so a reader never sees half a file."""
    tf.io.gfile.makedirs(os.path.dirname(path))
    temporary = f"{path}.tmp-{uuid.uuid4().hex}"
    with tf.io.gfile.GFile(temporary, "w") as out:
        out.write(text)
    tf.io.gfile.rename(temporary, path, overwrite=True)
    return path


def _lines_text(lines: list[str]) -> str:
    return "".join(line + "\n" for line in lines)


class _Gather(beam.PTransform):
    """Every element of a PCollection as one list, an empty one when there are none.

    A GroupByKey on a single key rather than CombineGlobally, whose default value for an
    empty input is a side input (Beam's Dask runner recomputes side inputs inside tasks).
    """

    def expand(self, pcoll):
        seed = pcoll.pipeline | "Seed" >> beam.Create([(0, (False, None))])
        keyed = pcoll | "Key" >> beam.Map(lambda element: (0, (True, element)))
        return (
            (seed, keyed)
            | "Union" >> beam.Flatten()
            | "Group" >> beam.GroupByKey()
            | "List" >> beam.Map(lambda group: [value for real, value in group[1] if real])
        )


class _WriteBundleShard(beam.DoFn):
    """Writes each bundle's serialized examples to a GZIP TFRecord shard of its own.

    For Beam's Dask runner, where WriteToTFRecord's temporary-directory protocol does not
    hold (its side inputs are recomputed per task, so shards land in temporary folders
    the finalizing step never sees). Each shard is written under a temporary name and
    renamed when its bundle ends.
    """

    def __init__(self, prefix: str):
        self._prefix = prefix

    def start_bundle(self):
        self._writer = None

    def process(self, record: bytes):
        if self._writer is None:
            tf.io.gfile.makedirs(os.path.dirname(self._prefix))
            self._path = f"{self._prefix}-{uuid.uuid4().hex}.gz"
            self._writer = tf.io.TFRecordWriter(self._path + ".tmp", options="GZIP")
        self._writer.write(record)

    def finish_bundle(self):
        if self._writer is not None:
            self._writer.close()
            tf.io.gfile.rename(self._path + ".tmp", self._path, overwrite=True)
            self._writer = None


def _summary_json(counts: dict, splits: tuple[SplitSpec, ...]) -> str:
    quarantined = {
        reason: counts.get(("reason", reason), 0)
        for reason in quarantine.ALL_REASONS
        if counts.get(("reason", reason), 0)
    }
    examples = {s.name: counts.get(("split", s.name), 0) for s in splits}
    summary = {
        "files": counts.get(("files",), 0),
        "records_in": counts.get(("records",), 0),
        "examples_out": sum(examples.values()),
        "quarantined": sum(quarantined.values()),
        "examples_per_split": examples,
        "quarantined_per_reason": quarantined,
        "blank_lines_skipped": counts.get(("blank",), 0),
    }
    return json.dumps(summary, indent=2, sort_keys=False)


class IngestLogs(beam.PTransform):
    """Log files to split tf.Examples, quarantine.jsonl and summary.json."""

    def __init__(
        self,
        files: list[str],
        examples_dir: str,
        quarantine_dir: str,
        splits: tuple[SplitSpec, ...] = DEFAULT_SPLITS,
        limits: IngestLimits = IngestLimits(),
        transcribe_speech: bool = True,
        read_image_text: bool = True,
    ):
        """`transcribe_speech`: write each voice turn's transcript (Whisper base, see
        models/speech_recognition.py), which the model reads beside the audio.
        `read_image_text`: write the text written in each picture (OCR, see
        models/image_text_recognition.py), which the model reads beside the picture."""
        super().__init__()
        self._files = files
        self._examples_dir = examples_dir
        self._quarantine_dir = quarantine_dir
        self._splits = splits
        self._limits = limits
        self._transcribe_speech = transcribe_speech
        self._read_image_text = read_image_text

    def expand(self, pbegin):
        # Single-output steps ending in one "Done" step that depends on every write: this
        # runs unchanged on the DirectRunner, Flink, Spark, Dataflow and Beam's Dask runner
        # (which computes only the graph behind the last step and does not separate
        # multi-outputs).
        splits = self._splits
        runner = pbegin.pipeline.options.view_as(beam.options.pipeline_options.StandardOptions)
        on_dask = str(runner.runner or "").endswith("DaskRunner")
        all_lines = (
            pbegin
            | "ListFiles" >> beam.Create(self._files)
            | "ReadLines" >> beam.FlatMap(read_log_lines)
        )
        lines = all_lines | "NonBlank" >> beam.Filter(lambda line: not _is_blank(line))
        blank = all_lines | "Blank" >> beam.Filter(_is_blank)
        # Grouping the raw lines by turn_id finds duplicates and spreads the conversion
        # (decoding, resampling: what dominates) over the workers. No side input: Beam's
        # Dask runner recomputes side inputs inside tasks, under clashing task keys.
        results = (
            lines
            | "KeyByTurnId" >> beam.Map(_keyed_by_turn_id)
            | "GroupByTurnId" >> beam.GroupByKey()
            | "FirstAndDuplicates" >> beam.FlatMap(_first_and_duplicates)
            | "Convert"
            >> beam.ParDo(
                _ConvertRecord(self._limits, self._transcribe_speech, self._read_image_text)
            )
        )
        converted = results | "Converted" >> beam.FlatMap(_tagged(_CONVERTED))
        quarantined = results | "Quarantined" >> beam.FlatMap(_tagged(_QUARANTINED))

        count_keys = [
            pbegin | "CountFiles" >> beam.Create([("files",)] * len(self._files)),
            lines | "KeyRecords" >> beam.Map(lambda _: ("records",)),
            blank | "KeyBlank" >> beam.Map(lambda _: ("blank",)),
            quarantined | "KeyReasons" >> beam.Map(lambda q: ("reason", q.reason)),
        ]
        written = []
        for index, split in enumerate(splits):
            name = split.name
            in_split = converted | f"Select[{name}]" >> beam.Filter(_in_split(index, splits))
            serialized = in_split | f"Serialize[{name}]" >> beam.Map(lambda t: t.serialized_example)
            prefix = os.path.join(self._examples_dir, f"Split-{name}", EXAMPLES_FILE_PREFIX)
            if on_dask:
                write = beam.ParDo(_WriteBundleShard(prefix))
            else:
                write = beam.io.WriteToTFRecord(
                    prefix,
                    file_name_suffix=".gz",
                    compression_type=beam.io.filesystem.CompressionTypes.GZIP,
                )
            written.append(serialized | f"Write[{name}]" >> write)
            count_keys.append(
                in_split | f"KeySplit[{name}]" >> beam.Map(lambda _, n=name: ("split", n))
            )

        written.append(
            quarantined
            | "CollectQuarantine" >> _Gather()
            | "OrderQuarantine" >> beam.Map(lambda records: _lines_text(_quarantine_lines(records)))
            | "WriteQuarantine"
            >> beam.Map(_write_file, os.path.join(self._quarantine_dir, QUARANTINE_FILE))
        )
        written.append(
            count_keys
            | "AllCountKeys" >> beam.Flatten()
            | "CollectCountKeys" >> _Gather()
            | "Count" >> beam.Map(collections.Counter)
            | "Summarize" >> beam.Map(lambda counts: _summary_json(counts, splits) + "\n")
            | "WriteSummary"
            >> beam.Map(_write_file, os.path.join(self._quarantine_dir, SUMMARY_FILE))
        )
        return written | "Done" >> beam.Flatten()


def read_summary(quarantine_dir: str) -> dict:
    """Reads summary.json and checks that the counts add up."""
    with tf.io.gfile.GFile(os.path.join(quarantine_dir, SUMMARY_FILE)) as summary_file:
        summary = json.load(summary_file)
    if summary["records_in"] != summary["examples_out"] + summary["quarantined"]:
        raise AssertionError(f"ingestion lost records: {summary}")
    return summary


def check_ingestable(summary: dict, input_description: str) -> None:
    """Raises IngestError when nothing at all could be converted."""
    if summary["files"] == 0:
        raise IngestError(f"no log files (*.jsonl) found in {input_description}")
    if summary["examples_out"] == 0:
        reasons = ", ".join(
            f"{reason}: {count}" for reason, count in summary["quarantined_per_reason"].items()
        )
        raise IngestError(
            f"none of the {summary['records_in']} records in {input_description} could be "
            f"converted ({reasons or 'no records'}); see {QUARANTINE_FILE} for each reason"
        )


def ingest_folder(
    log_dir: str,
    out_dir: str,
    patterns: tuple[str, ...] = ("*.jsonl",),
    splits: tuple[SplitSpec, ...] = DEFAULT_SPLITS,
    limits: IngestLimits = IngestLimits(),
    beam_pipeline_args: tuple[str, ...] = (),
    transcribe_speech: bool = True,
    read_image_text: bool = True,
) -> dict:
    """Runs the ingestion standalone (as `mmcs ingest` does) and returns the summary.

    Writes <out_dir>/Split-<name>/, <out_dir>/quarantine.jsonl and <out_dir>/summary.json.

    Raises:
      IngestError: no log files, or not a single convertible record.
    """
    files = list_log_files(log_dir, list(patterns))
    if not files:
        raise IngestError(f"no log files matching {list(patterns)} in {log_dir}")
    options = beam.options.pipeline_options.PipelineOptions(list(beam_pipeline_args))
    pipeline = beam.Pipeline(options=options)
    _ = pipeline | "IngestLogs" >> IngestLogs(
        files, out_dir, out_dir, splits, limits, transcribe_speech, read_image_text
    )
    result = pipeline.run()
    result.wait_until_finish()
    # Beam's Dask runner opens a distributed.Client per run and leaves it open.
    client = getattr(result, "client", None)
    if client is not None:
        client.close()
    summary = read_summary(out_dir)
    check_ingestable(summary, log_dir)
    return summary
