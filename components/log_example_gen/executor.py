"""LogExampleGen's executor: validates its configuration, then runs the Beam ingestion."""

import logging
import os

from tfx import types
from tfx.components.example_gen import utils as example_gen_utils
from tfx.components.example_gen import write_split
from tfx.components.util import examples_utils
from tfx.dsl.components.base import base_beam_executor
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils
from tfx.utils import proto_utils

from components.log_example_gen import beam_ingest, spec
from components.log_example_gen.record_conversion import IngestLimits
from models import derived_text_versions, features


def _splits_from(output_config: example_gen_pb2.Output) -> tuple[beam_ingest.SplitSpec, ...]:
    config = output_config.split_config
    if not config.splits:
        raise ValueError("output_config.split_config must name at least one output split")
    if config.partition_feature_name not in ("", features.SESSION_ID_KEY):
        raise ValueError(
            f"output_config partitions by {config.partition_feature_name!r}; LogExampleGen "
            f"splits by {features.SESSION_ID_KEY!r} so that no session is in two splits"
        )
    splits = []
    for split in config.splits:
        if split.hash_buckets <= 0:
            raise ValueError(f"split {split.name!r} needs hash_buckets > 0")
        splits.append(beam_ingest.SplitSpec(split.name, split.hash_buckets))
    return tuple(splits)


def _check_derived_text_versions(compiled: str | None) -> str:
    """Refuses to ingest with other recognizers than the pipeline was compiled with;
    returns the installed recognizers' versions.

    The versions are part of the execution properties, hence of TFX's cache key; examples
    written by different recognizers under the same key would make a cached run and a
    fresh one disagree, and the serving front ends (which use the installed recognizers)
    disagree with training.
    """
    installed = derived_text_versions.installed()
    if compiled and compiled != installed:
        raise ValueError(
            f"the pipeline was compiled with the recognizers {compiled!r}, but this worker "
            f"has {installed!r}: compile the pipeline where the worker's packages "
            "(requirements.lock) are installed, or install them here"
        )
    return installed


class Executor(base_beam_executor.BaseBeamExecutor):
    """Converts the resolved log files into Examples and a quarantine."""

    def Do(
        self,
        input_dict: dict[str, list[types.Artifact]],
        output_dict: dict[str, list[types.Artifact]],
        exec_properties: dict,
    ) -> None:
        del input_dict
        input_config = example_gen_pb2.Input()
        proto_utils.json_to_proto(exec_properties[spec.INPUT_CONFIG_KEY], input_config)
        output_config = example_gen_pb2.Output()
        proto_utils.json_to_proto(exec_properties[spec.OUTPUT_CONFIG_KEY], output_config)
        splits = _splits_from(output_config)
        limits = IngestLimits(
            max_record_bytes=exec_properties[spec.MAX_RECORD_BYTES_KEY],
            max_attachment_bytes=exec_properties[spec.MAX_ATTACHMENT_BYTES_KEY],
        )
        recognizers = _check_derived_text_versions(exec_properties.get(spec.DERIVED_TEXT_KEY))
        input_base = exec_properties[spec.INPUT_BASE_KEY]
        # The driver has already replaced {SPAN}/{VERSION} in the patterns.
        patterns = [split.pattern for split in input_config.splits]
        files = beam_ingest.list_log_files(input_base, patterns)
        if not files:
            raise beam_ingest.IngestError(f"no log files matching {patterns} in {input_base}")

        examples = artifact_utils.get_single_instance(output_dict[spec.EXAMPLES_KEY])
        quarantine = artifact_utils.get_single_instance(output_dict[spec.QUARANTINE_KEY])
        logging.info("LogExampleGen: %d log files from %s", len(files), input_base)
        with self._make_beam_pipeline() as pipeline:
            _ = pipeline | "IngestLogs" >> beam_ingest.IngestLogs(
                files, examples.uri, quarantine.uri, splits, limits
            )

        # Beside the splits, for the Trainer to put into the SavedModel.
        derived_text_versions.write(examples.uri, recognizers)
        summary = beam_ingest.read_summary(quarantine.uri)
        beam_ingest.check_ingestable(summary, input_base)
        examples.split_names = artifact_utils.encode_split_names([s.name for s in splits])
        examples_utils.set_payload_format(examples, example_gen_pb2.FORMAT_TF_EXAMPLE)
        examples_utils.set_file_format(
            examples, write_split.to_file_format_str(example_gen_pb2.FORMAT_TFRECORDS_GZIP)
        )
        for key in ("records_in", "examples_out", "quarantined"):
            quarantine.set_int_custom_property(key, summary[key])
        span = exec_properties.get(example_gen_utils.SPAN_PROPERTY_NAME)
        if span is not None:
            quarantine.set_int_custom_property(example_gen_utils.SPAN_PROPERTY_NAME, span)
        logging.info(
            "LogExampleGen: %d records in, %d examples out, %d quarantined (%s); see %s",
            summary["records_in"],
            summary["examples_out"],
            summary["quarantined"],
            summary["quarantined_per_reason"],
            os.path.join(quarantine.uri, beam_ingest.QUARANTINE_FILE),
        )
