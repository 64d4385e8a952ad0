"""Pipeline configuration: names, default locations and Beam options, as typed values."""

import dataclasses
import os

from models.training_config import TrainingConfig
from pipeline.evaluation import BlessingThresholds

PIPELINE_NAME = "mmcs"
# The name TF Serving serves the model under (/v1/models/<MODEL_NAME>).
MODEL_NAME = "mmcs"


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

    @property
    def serving_model_dir(self) -> str:
        """The TF Serving model base directory: <root>/serving/<model name>/<version>/."""
        return os.path.join(self.root, "serving", MODEL_NAME)


@dataclasses.dataclass(frozen=True)
class RunProfile:
    """Training effort and blessing bar for one kind of data."""

    training: TrainingConfig
    blessing: BlessingThresholds


PROFILES = {
    # The embedded 300-turn sample: about 3 turns per intent, so a few epochs and a bar
    # that checks the model learned something (chance is 1/78 for intents), not quality.
    "sample": RunProfile(
        TrainingConfig(epochs=4),
        BlessingThresholds(min_intent_accuracy=0.08, min_sentiment_accuracy=0.3),
    ),
    # Logs of BANKING77 size and up.
    "full": RunProfile(TrainingConfig(epochs=3), BlessingThresholds()),
}
