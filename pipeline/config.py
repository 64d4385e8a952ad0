"""Pipeline configuration: names, default locations and Beam options, as typed values."""

import dataclasses
import os

PIPELINE_NAME = "mmcs"


@dataclasses.dataclass(frozen=True)
class BeamConfig:
    """How Beam runs the data components (ingestion, statistics, later Transform).

    DirectRunner with one worker process per core by default; `extra_args` carries any
    other Beam pipeline option (e.g. --runner=FlinkRunner --flink_master=...).
    """

    workers: int = 2
    running_mode: str = "multi_processing"
    extra_args: tuple[str, ...] = ()

    def pipeline_args(self) -> list[str]:
        """The Beam pipeline arguments for these settings."""
        args = [
            f"--direct_running_mode={self.running_mode}",
            f"--direct_num_workers={self.workers}",
        ]
        return args + list(self.extra_args)


@dataclasses.dataclass(frozen=True)
class PipelinePaths:
    """Where one pipeline instance keeps its artifacts and metadata."""

    root: str

    @property
    def pipeline_root(self) -> str:
        return os.path.join(self.root, "pipeline")

    @property
    def metadata_path(self) -> str:
        return os.path.join(self.root, "metadata.sqlite")
