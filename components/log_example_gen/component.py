"""LogExampleGen: a file-based ExampleGen for multimodal customer-service logs."""

from tfx import types
from tfx.components.example_gen import driver
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.proto import example_gen_pb2, range_config_pb2
from tfx.types import standard_artifacts

from components.log_example_gen import executor, spec
from components.log_example_gen.record_conversion import IngestLimits
from models import derived_text_versions, features

DEFAULT_INPUT_PATTERN = "*.jsonl"


def default_output_config(train_buckets: int = 2, eval_buckets: int = 1) -> example_gen_pb2.Output:
    """Train/eval by hashing session_id, so no conversation is in both splits."""
    return example_gen_pb2.Output(
        split_config=example_gen_pb2.SplitConfig(
            splits=[
                example_gen_pb2.SplitConfig.Split(name="train", hash_buckets=train_buckets),
                example_gen_pb2.SplitConfig.Split(name="eval", hash_buckets=eval_buckets),
            ],
            partition_feature_name=features.SESSION_ID_KEY,
        )
    )


class LogExampleGen(base_beam_component.BaseBeamComponent):
    """Reads *.jsonl turn logs and their attachments with Beam into tf.Examples.

    Outputs:
      examples: Examples (tf.Example, TFRecord gzip) split by hashing session_id.
      quarantine: QuarantinedLogRecords; every record that could not be converted, with
        its reason, and summary.json with counts that add up.
    """

    SPEC_CLASS = spec.LogExampleGenSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)
    # TFX's own driver: resolves {SPAN}/{VERSION} patterns and fingerprints the input files.
    DRIVER_CLASS = driver.FileBasedDriver

    def __init__(
        self,
        input_base: str,
        input_config: example_gen_pb2.Input | None = None,
        output_config: example_gen_pb2.Output | None = None,
        range_config: range_config_pb2.RangeConfig | None = None,
        limits: IngestLimits = IngestLimits(),
    ):
        """Constructs a LogExampleGen.

        Args:
          input_base: the log folder (local path or any filesystem TensorFlow reads).
          input_config: input patterns relative to input_base; one split matching
            *.jsonl by default (one span, span 0). A pattern with a span spec, e.g.
            "{YYYY}-{MM}-{DD}/*.jsonl" for day folders or "{SPAN}/*.jsonl", is resolved by
            the FileBasedDriver to the newest span, and only its files are read.
          output_config: output splits and their hash buckets; train:eval 2:1 by
            session_id by default.
          range_config: which spans to ingest (latest by default).
          limits: payload limits above which records are quarantined.
        """
        input_config = input_config or example_gen_pb2.Input(
            splits=[example_gen_pb2.Input.Split(name="logs", pattern=DEFAULT_INPUT_PATTERN)]
        )
        super().__init__(
            spec=spec.LogExampleGenSpec(
                input_base=input_base,
                input_config=input_config,
                output_config=output_config or default_output_config(),
                range_config=range_config,
                max_record_bytes=limits.max_record_bytes,
                max_attachment_bytes=limits.max_attachment_bytes,
                derived_text_recognizers=derived_text_versions.installed(),
                examples=types.Channel(type=standard_artifacts.Examples),
                quarantine=types.Channel(type=spec.QuarantinedLogRecords),
            )
        )
