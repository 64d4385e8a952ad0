"""The Beam pipeline that turns a log folder into split tf.Examples and a quarantine.

Used by the LogExampleGen executor and by `mmcs ingest`; both write the same layout:
  <examples_dir>/Split-<name>/data_tfrecord-*.gz
  <quarantine_dir>/quarantine.jsonl      one QuarantinedRecord per line, by source
  <quarantine_dir>/summary.json          counts: records in = examples out + quarantined
"""

import dataclasses
import json
import os
import posixpath

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
_BLANK = "blank"


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


class _ReadLogLines(beam.DoFn):
    """Yields (source, folder, raw line) for every non-blank line of a .jsonl file."""

    def process(self, path: str):
        for source, folder, raw in read_log_lines(path):
            if raw is None:
                yield beam.pvalue.TaggedOutput(_BLANK, path)
            else:
                yield source, folder, raw


def _keyed_by_turn_id(element):
    """(turn_id, source) of a line whose turn_id can be read, for duplicate detection."""
    source, _, raw = element
    turn_id = turn_id_of(raw)
    if turn_id is not None:
        yield turn_id, source


def _later_duplicates(keyed):
    """For one turn_id: (source, first source) of every occurrence after the first."""
    _, sources = keyed
    ordered = sorted(sources, key=_source_order)
    for later in ordered[1:]:
        yield later, ordered[0]


class _ConvertRecord(beam.DoFn):
    """Converts a line, routing it to the converted or the quarantined output.

    Duplicates are decided on the raw lines, before conversion: the first occurrence of a
    turn_id in (file, line) order is converted, later ones are set aside unconverted. The
    heavy payloads (decoded pictures and audio) then never cross a shuffle, so conversion
    and writing stay fused in the same worker.
    """

    def __init__(self, limits: IngestLimits):
        self._limits = limits

    def process(self, element, duplicates: dict):
        source, folder, raw = element
        first = duplicates.get(source)
        if first is not None:
            yield beam.pvalue.TaggedOutput(
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
            yield beam.pvalue.TaggedOutput(
                _CONVERTED, convert_record(source, folder, raw, self._limits)
            )
        except quarantine.RecordRejected as rejected:
            yield beam.pvalue.TaggedOutput(
                _QUARANTINED,
                quarantine.QuarantinedRecord(
                    source=source,
                    reason=rejected.reason,
                    detail=rejected.detail,
                    raw=raw,
                    turn_id=turn_id_of(raw),
                ),
            )


def _quarantine_lines(records: list[quarantine.QuarantinedRecord]) -> list[str]:
    return [r.to_json() for r in sorted(records, key=lambda r: _source_order(r.source))]


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
    ):
        super().__init__()
        self._files = files
        self._examples_dir = examples_dir
        self._quarantine_dir = quarantine_dir
        self._splits = splits
        self._limits = limits

    def expand(self, pbegin):
        splits = self._splits
        lines = (
            pbegin
            | "ListFiles" >> beam.Create(self._files)
            | "ReadLines" >> beam.ParDo(_ReadLogLines()).with_outputs(_BLANK, main="lines")
        )
        records = (
            lines.lines
            # Conversion (decoding, resampling) dominates: spread lines over workers.
            | "Distribute" >> beam.Reshuffle()
        )
        duplicates = (
            records
            | "KeyByTurnId" >> beam.FlatMap(_keyed_by_turn_id)
            | "GroupByTurnId" >> beam.GroupByKey()
            | "LaterDuplicates" >> beam.FlatMap(_later_duplicates)
        )
        converted = records | "Convert" >> beam.ParDo(
            _ConvertRecord(self._limits), duplicates=beam.pvalue.AsDict(duplicates)
        ).with_outputs(_CONVERTED, _QUARANTINED)
        quarantined = converted[_QUARANTINED]

        per_split = converted[_CONVERTED] | "SplitBySession" >> beam.Partition(
            lambda turn, _: split_of_session(turn.session_id, splits), len(splits)
        )
        count_keys = [
            pbegin | "CountFiles" >> beam.Create([("files",)] * len(self._files)),
            lines.lines | "KeyRecords" >> beam.Map(lambda _: ("records",)),
            lines[_BLANK] | "KeyBlank" >> beam.Map(lambda _: ("blank",)),
            quarantined | "KeyReasons" >> beam.Map(lambda q: ("reason", q.reason)),
        ]
        for index, split in enumerate(splits):
            name = split.name
            examples = per_split[index] | f"Serialize[{name}]" >> beam.Map(
                lambda t: t.serialized_example
            )
            examples | f"Write[{name}]" >> beam.io.WriteToTFRecord(
                os.path.join(self._examples_dir, f"Split-{name}", EXAMPLES_FILE_PREFIX),
                file_name_suffix=".gz",
                compression_type=beam.io.filesystem.CompressionTypes.GZIP,
            )
            count_keys.append(
                per_split[index] | f"KeySplit[{name}]" >> beam.Map(lambda _, n=name: ("split", n))
            )

        (
            quarantined
            | "CollectQuarantine" >> beam.combiners.ToList()
            | "OrderQuarantine" >> beam.FlatMap(_quarantine_lines)
            | "WriteQuarantine"
            >> beam.io.WriteToText(
                os.path.join(self._quarantine_dir, QUARANTINE_FILE),
                num_shards=1,
                shard_name_template="",
            )
        )
        (
            count_keys
            | "AllCountKeys" >> beam.Flatten()
            | "Count" >> beam.combiners.Count.PerElement()
            | "ToDict" >> beam.combiners.ToDict()
            | "Summarize" >> beam.Map(_summary_json, splits)
            | "WriteSummary"
            >> beam.io.WriteToText(
                os.path.join(self._quarantine_dir, SUMMARY_FILE),
                num_shards=1,
                shard_name_template="",
            )
        )
        return pbegin.pipeline


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
    with beam.Pipeline(options=options) as pipeline:
        _ = pipeline | "IngestLogs" >> IngestLogs(files, out_dir, out_dir, splits, limits)
    summary = read_summary(out_dir)
    check_ingestable(summary, log_dir)
    return summary
