"""The mmcs TFX pipeline: the one definition every runner (local, Kubeflow, Airflow) uses."""

from google.protobuf import text_format
from ml_metadata.proto import metadata_store_pb2
from tensorflow_data_validation.anomalies.proto import custom_validation_config_pb2
from tfx import v1 as tfx

from components.log_example_gen.component import LogExampleGen
from components.validation_gate.component import ValidationGate


def load_custom_validations(path: str) -> custom_validation_config_pb2.CustomValidationConfig:
    """Parses the TFDV custom validation config (text proto) at path."""
    with open(path, encoding="utf-8") as config_file:
        return text_format.Parse(
            config_file.read(), custom_validation_config_pb2.CustomValidationConfig()
        )


def create_pipeline(
    pipeline_name: str,
    pipeline_root: str,
    log_dir: str,
    schema_path: str,
    custom_validations_path: str,
    beam_pipeline_args: list[str],
    metadata_connection_config: metadata_store_pb2.ConnectionConfig | None = None,
    enable_cache: bool = True,
) -> tfx.dsl.Pipeline:
    """Builds the pipeline: ingest logs, compute statistics, validate against the schema.

    Args:
      pipeline_name: name of the pipeline (its MLMD context).
      pipeline_root: where artifacts are written.
      log_dir: the log folder (*.jsonl turns and their attachments).
      schema_path: the curated TFDV schema (schemas/schema.pbtxt).
      custom_validations_path: the TFDV custom validations (modality shares).
      beam_pipeline_args: Beam options for the data components.
      metadata_connection_config: MLMD connection; None lets the orchestrator decide.
      enable_cache: reuse results of components whose inputs did not change.
    """
    log_example_gen = LogExampleGen(input_base=log_dir)
    statistics_gen = tfx.components.StatisticsGen(examples=log_example_gen.outputs["examples"])
    schema_importer = tfx.components.ImportSchemaGen(schema_file=schema_path)
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"],
        schema=schema_importer.outputs["schema"],
        custom_validation_config=load_custom_validations(custom_validations_path),
    )
    # ExampleValidator records anomalies but stops nothing; the gate does.
    validation_gate = ValidationGate(anomalies=example_validator.outputs["anomalies"])

    return tfx.dsl.Pipeline(
        pipeline_name=pipeline_name,
        pipeline_root=pipeline_root,
        components=[
            log_example_gen,
            statistics_gen,
            schema_importer,
            example_validator,
            validation_gate,
        ],
        enable_cache=enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=beam_pipeline_args,
    )
