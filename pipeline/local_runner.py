"""Runs the pipeline on this machine with TFX's LocalDagRunner and a SQLite MLMD."""

import os
from collections.abc import Collection

from tfx import v1 as tfx
from tfx.orchestration import pipeline as tfx_pipeline

import schemas
from models.training_config import TrainingConfig
from pipeline import config
from pipeline.evaluation import BlessingThresholds
from pipeline.pipeline import create_pipeline
from pipeline.run_tempdir import run_tempdir


def run_local(
    log_dir: str,
    paths: config.PipelinePaths,
    beam: config.BeamConfig = config.BeamConfig(),
    training: TrainingConfig = TrainingConfig(),
    blessing: BlessingThresholds = BlessingThresholds(),
    pipeline_name: str = config.PIPELINE_NAME,
    enable_cache: bool = True,
    span_window: int = config.DEFAULT_SPAN_WINDOW,
    log_pattern: str | None = None,
    split: config.SplitBuckets = config.SplitBuckets(),
    only_nodes: Collection[str] = (),
) -> None:
    """Runs the whole pipeline once (or some of its components); raises if any fails.

    Args:
      log_dir: a flat log folder (one span) or a folder of day folders (the newest day
        is this run's span).
      span_window: how many of the newest validated spans Transform and the Trainer read.
      log_pattern: the span's log files relative to log_dir; by default detected from
        the folder's layout (config.log_pattern_for).
      split: train and eval hash buckets of session_id (the run profile's).
      only_nodes: component ids to run alone (a TFX partial run): the others are not
        run, and their outputs come from the latest run of this pipeline root.
    """
    os.makedirs(paths.root, exist_ok=True)
    # What TFX, Beam and TF Transform leave in the temporary directory goes with the run.
    with run_tempdir():
        tfx.orchestration.LocalDagRunner().run(
            create_pipeline(
                pipeline_name=pipeline_name,
                pipeline_root=paths.pipeline_root,
                log_dir=os.path.abspath(log_dir),
                schema_path=str(schemas.TFDV_SCHEMA_PATH),
                custom_validations_path=str(schemas.CUSTOM_VALIDATIONS_PATH),
                serving_model_dir=paths.serving_model_dir,
                beam_pipeline_args=beam.pipeline_args(),
                training=training,
                blessing=blessing,
                metadata_connection_config=(
                    tfx.orchestration.metadata.sqlite_metadata_connection_config(
                        paths.metadata_path
                    )
                ),
                enable_cache=enable_cache,
                log_pattern=log_pattern or config.log_pattern_for(log_dir),
                span_window_size=span_window,
                split=split,
            ),
            run_options=(
                tfx_pipeline.RunOptions(from_nodes=only_nodes, to_nodes=only_nodes)
                if only_nodes
                else None
            ),
        )
