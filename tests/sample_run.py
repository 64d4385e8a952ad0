"""The embedded sample and the settings tests run the pipeline on it with."""

import dataclasses
import json
import os
from pathlib import Path

from models import features
from pipeline import config

SAMPLE = Path(__file__).resolve().parents[1] / "corpus" / "sample"
# One in-memory worker: the sample is small, and worker start-up would dominate.
SAMPLE_BEAM = config.BeamConfig(workers=1, running_mode="in_memory")
SAMPLE_PROFILE = config.PROFILES["sample"]

# For tests of the pipeline's orchestration (spans, caching, resuming, the Evaluator's
# gate), where what the model learns does not matter: one epoch of a model that reads the
# typed text only. Transform still turns every modality into features; the Trainer
# builds, traces and exports the text encoder alone, in 0.4-0.6x the fused model's time
# on the 2-core CPU (docs/design.md, Tests). The session's sample run (tests/conftest.py)
# trains the fused model of the `sample` profile.
ORCHESTRATION_TRAINING = dataclasses.replace(
    SAMPLE_PROFILE.training,
    epochs=1,
    model=dataclasses.replace(SAMPLE_PROFILE.training.model, modalities=(features.TEXT_KEY,)),
)


def sample_records() -> list[dict]:
    """The sample's log records, as written, in file order."""
    records = []
    for path in sorted(SAMPLE.glob("*.jsonl")):
        records += [json.loads(line) for line in path.read_text().splitlines() if line]
    return records


def pushed_versions(paths: config.PipelinePaths) -> list[str]:
    """The model versions the Pusher has written under the serving base, oldest first."""
    if not os.path.isdir(paths.serving_model_dir):
        return []
    return sorted(os.listdir(paths.serving_model_dir))
