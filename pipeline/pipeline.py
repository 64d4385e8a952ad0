"""The mmcs TFX pipeline: the one definition every runner (local, Kubeflow, Airflow) uses."""

from google.protobuf import text_format
from ml_metadata.proto import metadata_store_pb2
from tensorflow_data_validation.anomalies.proto import custom_validation_config_pb2
from tfx import v1 as tfx

from components.log_example_gen.component import LogExampleGen, default_output_config
from components.validation_gate.component import ValidationGate
from models.training_config import TrainingConfig
from pipeline import baseline_model, config, span_window
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
    log_pattern: str = config.FLAT_LOG_PATTERN,
    span_window_size: int = config.DEFAULT_SPAN_WINDOW,
    custom_resolvers: bool = True,
    split: config.SplitBuckets = config.SplitBuckets(),
) -> tfx.dsl.Pipeline:
    """Builds the pipeline: ingest, validate, transform, train, evaluate, push.

    One run ingests one span of logs: the newest day folder of a dated log folder
    (log_pattern "{YYYY}-{MM}-{DD}/*.jsonl"), or a flat folder as span 0. That span is
    validated; Transform and the Trainer then read a window of the newest validated spans,
    and the Evaluator judges the candidate on the new span alone.

    Args:
      pipeline_name: name of the pipeline (its MLMD context).
      pipeline_root: where artifacts are written.
      log_dir: the log folder (*.jsonl turns and their attachments, or day folders).
      schema_path: the curated TFDV schema (schemas/schema.pbtxt).
      custom_validations_path: the TFDV custom validations (modality shares).
      serving_model_dir: the TF Serving model base directory of this model; the Pusher
        writes <serving_model_dir>/<version>/.
      training: model and training settings (the Trainer's custom_config).
      blessing: what the Evaluator requires before the Pusher may push.
      beam_pipeline_args: Beam options for the data components.
      metadata_connection_config: MLMD connection; None lets the orchestrator decide.
      enable_cache: reuse results of components whose inputs did not change.
      log_pattern: the log files of a span, relative to log_dir; {YYYY}-{MM}-{DD} (or
        {SPAN}) marks the span, and the newest one is ingested.
      span_window_size: how many of the newest validated spans Transform and the Trainer
        read.
      custom_resolvers: use mmcs's resolver strategies (the span window, the baseline
        older than the candidate). False keeps to the strategies every orchestrator
        compiles (Kubeflow V2 knows only LatestBlessedModelStrategy and
        LatestArtifactStrategy): Transform and the Trainer then read this run's span
        alone, and the baseline is the latest blessed model.
      split: the share of sessions in the train and eval splits (the Evaluator and the
        out-of-scope calibration read eval).
    """
    log_example_gen = LogExampleGen(
        input_base=log_dir,
        input_config=tfx.proto.Input(
            splits=[tfx.proto.Input.Split(name="logs", pattern=log_pattern)]
        ),
        output_config=default_output_config(split.train, split.eval),
    )
    statistics_gen = tfx.components.StatisticsGen(examples=log_example_gen.outputs["examples"])
    schema_importer = tfx.components.ImportSchemaGen(schema_file=schema_path)
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"],
        schema=schema_importer.outputs["schema"],
        custom_validation_config=load_custom_validations(custom_validations_path),
    )
    # ExampleValidator records anomalies but stops nothing; the gate does.
    validation_gate = ValidationGate(anomalies=example_validator.outputs["anomalies"])

    # The newest validated spans, from this run and earlier ones. Resolved once the gate
    # has passed this run's span, so the new span is in it.
    span_window_resolver = None
    window_examples = log_example_gen.outputs["examples"]
    if custom_resolvers:
        span_window_resolver = tfx.dsl.Resolver(
            strategy_class=span_window.ValidatedSpanWindowStrategy,
            config={
                "range_config": span_window.rolling_window(span_window_size),
                "gate_type_name": ValidationGate.get_class_type(),
            },
            examples=tfx.dsl.Channel(
                type=tfx.types.standard_artifacts.Examples,
                producer_component_id=log_example_gen.id,
                output_key="examples",
            ),
        ).with_id("span_window_resolver")
        span_window_resolver.add_upstream_node(validation_gate)
        window_examples = span_window_resolver.outputs["examples"]

    # Not materialized: transformed pictures are 600 KB each; the Trainer applies the
    # transform graph in its input pipeline instead.
    transform = tfx.components.Transform(
        examples=window_examples,
        schema=schema_importer.outputs["schema"],
        preprocessing_fn=PREPROCESSING_FN,
        materialize=False,
        disable_statistics=True,
    )
    transform.add_upstream_node(validation_gate)
    trainer = tfx.components.Trainer(
        run_fn=RUN_FN,
        examples=window_examples,
        transform_graph=transform.outputs["transform_graph"],
        schema=schema_importer.outputs["schema"],
        custom_config=training.to_custom_config(),
    )
    # The latest blessed model older than the candidate (pipeline/baseline_model.py), so
    # that a re-run with a cached Trainer has cached Evaluator and Pusher too.
    baseline_inputs = {
        "model": tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
        "model_blessing": tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing),
    }
    if custom_resolvers:
        baseline_inputs[baseline_model.CANDIDATE_KEY] = trainer.outputs["model"]
    latest_blessed_model = tfx.dsl.Resolver(
        strategy_class=(
            baseline_model.BaselineModelStrategy
            if custom_resolvers
            else tfx.dsl.experimental.LatestBlessedModelStrategy
        ),
        **baseline_inputs,
    ).with_id("latest_blessed_model_resolver")
    # The new span only: the candidate and the baseline are compared on the freshest
    # traffic, which the Trainer did not fit (it saw this span's eval split only for
    # early metrics and the out-of-scope calibration).
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
            *([span_window_resolver] if span_window_resolver else []),
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
