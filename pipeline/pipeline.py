"""The mmcs TFX pipeline: the one definition every runner (local, Kubeflow, Airflow) uses."""

from google.protobuf import text_format
from ml_metadata.proto import metadata_store_pb2
from tensorflow_data_validation.anomalies.proto import custom_validation_config_pb2
from tfx import v1 as tfx

from components.log_example_gen.component import LogExampleGen
from components.validation_gate.component import ValidationGate
from models.training_config import TrainingConfig
from pipeline.evaluation import BlessingThresholds, eval_config

# Module paths of the user code (the package is installed wherever the pipeline runs).
PREPROCESSING_FN = "models.preprocessing.preprocessing_fn"
RUN_FN = "models.trainer.run_fn"


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
    serving_model_dir: str,
    beam_pipeline_args: list[str],
    training: TrainingConfig = TrainingConfig(),
    blessing: BlessingThresholds = BlessingThresholds(),
    metadata_connection_config: metadata_store_pb2.ConnectionConfig | None = None,
    enable_cache: bool = True,
) -> tfx.dsl.Pipeline:
    """Builds the pipeline: ingest, validate, transform, train, evaluate, push.

    Args:
      pipeline_name: name of the pipeline (its MLMD context).
      pipeline_root: where artifacts are written.
      log_dir: the log folder (*.jsonl turns and their attachments).
      schema_path: the curated TFDV schema (schemas/schema.pbtxt).
      custom_validations_path: the TFDV custom validations (modality shares).
      serving_model_dir: the TF Serving model base directory of this model; the Pusher
        writes <serving_model_dir>/<version>/.
      training: model and training settings (the Trainer's custom_config).
      blessing: what the Evaluator requires before the Pusher may push.
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

    # Not materialized: transformed pictures are 600 KB each; the Trainer applies the
    # transform graph in its input pipeline instead.
    transform = tfx.components.Transform(
        examples=log_example_gen.outputs["examples"],
        schema=schema_importer.outputs["schema"],
        preprocessing_fn=PREPROCESSING_FN,
        materialize=False,
        disable_statistics=True,
    )
    transform.add_upstream_node(validation_gate)
    trainer = tfx.components.Trainer(
        run_fn=RUN_FN,
        examples=log_example_gen.outputs["examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=schema_importer.outputs["schema"],
        custom_config=training.to_custom_config(),
    )
    latest_blessed_model = tfx.dsl.Resolver(
        strategy_class=tfx.dsl.experimental.LatestBlessedModelStrategy,
        model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
        model_blessing=tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing),
    ).with_id("latest_blessed_model_resolver")
    evaluator = tfx.components.Evaluator(
        examples=log_example_gen.outputs["examples"],
        model=trainer.outputs["model"],
        baseline_model=latest_blessed_model.outputs["model"],
        eval_config=eval_config(blessing),
    )
    pusher = tfx.components.Pusher(
        model=trainer.outputs["model"],
        model_blessing=evaluator.outputs["blessing"],
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(base_directory=serving_model_dir)
        ),
    )

    return tfx.dsl.Pipeline(
        pipeline_name=pipeline_name,
        pipeline_root=pipeline_root,
        components=[
            log_example_gen,
            statistics_gen,
            schema_importer,
            example_validator,
            validation_gate,
            transform,
            trainer,
            latest_blessed_model,
            evaluator,
            pusher,
        ],
        enable_cache=enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=beam_pipeline_args,
    )
