"""Runs the pipeline on Apache Airflow 2.x with TFX's AirflowDagRunner.

`mmcs compile airflow` writes a small DAG file whose settings are literals; when Airflow
parses it, it calls create_dag(...) here, which builds the one create_pipeline(...) and
hands it to AirflowDagRunner (like the TFX taxi template's airflow_runner.py). Airflow and
TFX share an environment only in .venv-airflow (see requirements-airflow.lock), so
Airflow is imported in create_dag alone: the rest of this module works without it.
"""

import dataclasses
import datetime
import os
import re

from tfx import v1 as tfx

import schemas
from pipeline import config
from pipeline.pipeline import create_pipeline

DAG_FILE_NAME = "mmcs_pipeline_dag.py"
SCHEDULE_PRESETS = ("@once", "@hourly", "@daily", "@weekly", "@monthly", "@yearly")
# Five cron fields: minute hour day-of-month month day-of-week.
_CRON_FIELD = re.compile(r"^[0-9A-Za-z*/,?-]+$")


def check_schedule(schedule: str | None) -> None:
    """Raises ValueError unless schedule is None, an Airflow preset or a 5-field cron."""
    if schedule is None or schedule in SCHEDULE_PRESETS:
        return
    fields = schedule.split()
    if len(fields) != 5 or not all(_CRON_FIELD.match(field) for field in fields):
        raise ValueError(
            f"schedule {schedule!r} is neither one of {', '.join(SCHEDULE_PRESETS)} "
            "nor a cron expression of 5 fields"
        )


@dataclasses.dataclass(frozen=True)
class AirflowSettings:
    """What the Airflow DAG runs and when. Paths are absolute (Airflow's workers read them).

    Attributes:
      log_dir: the log folder the LogExampleGen reads.
      root: pipeline root, MLMD (SQLite) and serving model directory, as PipelinePaths.
      schedule: Airflow's schedule_interval: a preset (@daily), a cron expression, or None
        for runs triggered by hand.
      start_date: first logical date, ISO format (YYYY-MM-DD).
      beam_pipeline_args: Beam options for the data components.
      profile: run profile of pipeline/config.py (training effort and blessing bar).
      pipeline_name: the DAG id and MLMD pipeline name.
      log_pattern: the span's log files under log_dir (config.DATED_LOG_PATTERN for day
        folders: each run ingests the newest day).
      span_window: how many of the newest validated spans Transform and the Trainer read.
    """

    log_dir: str
    root: str
    schedule: str | None = "@daily"
    start_date: str = "2026-01-01"
    beam_pipeline_args: tuple[str, ...] = tuple(config.BeamConfig().pipeline_args())
    profile: str = "full"
    pipeline_name: str = config.PIPELINE_NAME
    log_pattern: str = config.FLAT_LOG_PATTERN
    span_window: int = config.DEFAULT_SPAN_WINDOW

    def __post_init__(self):
        check_schedule(self.schedule)
        try:
            datetime.date.fromisoformat(self.start_date)
        except ValueError as error:
            raise ValueError(f"start date {self.start_date!r} is not YYYY-MM-DD") from error
        if self.profile not in config.PROFILES:
            raise ValueError(f"profile {self.profile!r} is not one of {sorted(config.PROFILES)}")


def build_pipeline(settings: AirflowSettings) -> tfx.dsl.Pipeline:
    """The pipeline with these settings and a SQLite MLMD under settings.root."""
    paths = config.PipelinePaths(settings.root)
    profile = config.PROFILES[settings.profile]
    return create_pipeline(
        pipeline_name=settings.pipeline_name,
        pipeline_root=paths.pipeline_root,
        log_dir=settings.log_dir,
        schema_path=str(schemas.TFDV_SCHEMA_PATH),
        custom_validations_path=str(schemas.CUSTOM_VALIDATIONS_PATH),
        serving_model_dir=paths.serving_model_dir,
        beam_pipeline_args=list(settings.beam_pipeline_args),
        training=profile.training,
        blessing=profile.blessing,
        split=profile.split,
        log_pattern=settings.log_pattern,
        span_window_size=settings.span_window,
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            paths.metadata_path
        ),
    )


def create_dag(settings: AirflowSettings):
    """The Airflow DAG of the pipeline: one task per component, ids as in the pipeline."""
    from tfx.orchestration.airflow.airflow_dag_runner import (
        AirflowDagRunner,
        AirflowPipelineConfig,
    )

    start = datetime.date.fromisoformat(settings.start_date)
    dag_config = {
        "schedule_interval": settings.schedule,
        "start_date": datetime.datetime(start.year, start.month, start.day),
        "catchup": False,
    }
    runner = AirflowDagRunner(AirflowPipelineConfig(airflow_dag_config=dag_config))
    return runner.run(build_pipeline(settings))


def dag_file_source(settings: AirflowSettings) -> str:
    """The text of a DAG file that builds the pipeline with these settings."""
    fields = ",\n".join(
        f"        {field.name}={getattr(settings, field.name)!r}"
        for field in dataclasses.fields(settings)
    )
    return f'''"""Airflow DAG of the mmcs TFX pipeline, written by `mmcs compile airflow`.

Airflow parses this file; the pipeline is pipeline/pipeline.py's create_pipeline, built by
pipeline.airflow_runner (the mmcs package and TFX must be installed where Airflow runs).
Re-run `mmcs compile airflow` to change the settings.
"""

from pipeline import airflow_runner

DAG = airflow_runner.create_dag(
    airflow_runner.AirflowSettings(
{fields},
    )
)
'''


def write_dag_file(settings: AirflowSettings, dag_folder: str) -> str:
    """Writes the DAG file into dag_folder (created if needed); returns its path."""
    os.makedirs(dag_folder, exist_ok=True)
    path = os.path.join(dag_folder, DAG_FILE_NAME)
    with open(path, "w", encoding="utf-8") as dag_file:
        dag_file.write(dag_file_source(settings))
    return path
