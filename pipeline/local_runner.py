"""Runs the pipeline on this machine with TFX's LocalDagRunner and a SQLite MLMD."""

import os

from tfx import v1 as tfx

import schemas
from pipeline import config
from pipeline.pipeline import create_pipeline


def run_local(
    log_dir: str,
    paths: config.PipelinePaths,
    beam: config.BeamConfig = config.BeamConfig(),
    pipeline_name: str = config.PIPELINE_NAME,
    enable_cache: bool = True,
) -> None:
    """Runs the whole pipeline once; raises if any component fails."""
    os.makedirs(paths.root, exist_ok=True)
    tfx.orchestration.LocalDagRunner().run(
        create_pipeline(
            pipeline_name=pipeline_name,
            pipeline_root=paths.pipeline_root,
            log_dir=os.path.abspath(log_dir),
            schema_path=str(schemas.TFDV_SCHEMA_PATH),
            custom_validations_path=str(schemas.CUSTOM_VALIDATIONS_PATH),
            beam_pipeline_args=beam.pipeline_args(),
            metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
                paths.metadata_path
            ),
            enable_cache=enable_cache,
        )
    )
