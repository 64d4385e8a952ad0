"""The embedded sample and the settings tests run the pipeline on it with."""

from pathlib import Path

from pipeline import config

SAMPLE = Path(__file__).resolve().parents[1] / "corpus" / "sample"
# One in-memory worker: the sample is small, and worker start-up would dominate.
SAMPLE_BEAM = config.BeamConfig(workers=1, running_mode="in_memory")
SAMPLE_PROFILE = config.PROFILES["sample"]
