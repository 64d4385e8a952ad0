"""LogExampleGen's keys, output artifact type and ComponentSpec."""

from tfx import types
from tfx.proto import example_gen_pb2, range_config_pb2
from tfx.types import standard_artifacts, standard_component_specs
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

# The standard ExampleGen keys, so TFX's FileBasedDriver resolves spans and fingerprints.
INPUT_BASE_KEY = standard_component_specs.INPUT_BASE_KEY
INPUT_CONFIG_KEY = standard_component_specs.INPUT_CONFIG_KEY
OUTPUT_CONFIG_KEY = standard_component_specs.OUTPUT_CONFIG_KEY
RANGE_CONFIG_KEY = standard_component_specs.RANGE_CONFIG_KEY
EXAMPLES_KEY = standard_component_specs.EXAMPLES_KEY
# LogExampleGen's own.
QUARANTINE_KEY = "quarantine"
MAX_RECORD_BYTES_KEY = "max_record_bytes"
MAX_ATTACHMENT_BYTES_KEY = "max_attachment_bytes"
# The speech and text recognizers' versions and settings (models/derived_text_versions.py): a
# change of either changes the transcripts and picture texts, so it must change the
# component's execution properties, or TFX's cache would reuse examples of the old ones.
DERIVED_TEXT_KEY = "derived_text_recognizers"


class QuarantinedLogRecords(types.Artifact):
    """Log records set aside at ingestion (quarantine.jsonl) and the counts (summary.json)."""

    TYPE_NAME = "mmcs.QuarantinedLogRecords"


class LogExampleGenSpec(types.ComponentSpec):
    """Multimodal log folder in; split tf.Examples and the quarantine out."""

    PARAMETERS = {
        INPUT_BASE_KEY: ExecutionParameter(type=str),
        INPUT_CONFIG_KEY: ExecutionParameter(type=example_gen_pb2.Input),
        OUTPUT_CONFIG_KEY: ExecutionParameter(type=example_gen_pb2.Output),
        RANGE_CONFIG_KEY: ExecutionParameter(type=range_config_pb2.RangeConfig, optional=True),
        MAX_RECORD_BYTES_KEY: ExecutionParameter(type=int),
        MAX_ATTACHMENT_BYTES_KEY: ExecutionParameter(type=int),
        DERIVED_TEXT_KEY: ExecutionParameter(type=str, optional=True),
    }
    INPUTS = {}
    OUTPUTS = {
        EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples),
        QUARANTINE_KEY: ChannelParameter(type=QuarantinedLogRecords),
    }
