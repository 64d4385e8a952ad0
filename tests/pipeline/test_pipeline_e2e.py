"""The TFX pipeline end to end: clean logs pass validation, drifted logs stop at it."""

import json
import shutil
from pathlib import Path

import pytest

from components.log_example_gen import beam_ingest
from components.validation_gate import spec as gate_spec
from components.validation_gate.executor import DataAnomaliesError
from models import features
from pipeline import config, local_runner, run_outputs

SAMPLE = Path(__file__).resolve().parents[2] / "corpus" / "sample"
# One in-memory worker: these logs are small, and worker start-up would dominate.
BEAM = config.BeamConfig(workers=1, running_mode="in_memory")

pytestmark = pytest.mark.slow


def _latest(paths, node):
    return run_outputs.latest_artifact_uris(paths.metadata_path, config.PIPELINE_NAME, node)


def _sample_turns():
    turns = []
    for path in sorted(SAMPLE.glob("*.jsonl")):
        turns += [json.loads(line) for line in path.read_text().splitlines() if line]
    return turns


def test_sample_passes_validation_and_nothing_is_lost(tmp_path):
    paths = config.PipelinePaths(str(tmp_path / "run"))
    local_runner.run_local(str(SAMPLE), paths, beam=BEAM)

    quarantine_uri = _latest(paths, "LogExampleGen")["mmcs.QuarantinedLogRecords"]
    summary = beam_ingest.read_summary(quarantine_uri)
    assert summary["records_in"] == len(_sample_turns())
    assert summary["quarantined"] == 0
    assert summary["examples_per_split"]["train"] > summary["examples_per_split"]["eval"] > 0

    gate_uri = _latest(paths, "ValidationGate")["mmcs.DataValidationResult"]
    report = Path(gate_uri, gate_spec.REPORT_FILE).read_text()
    assert report.splitlines() == ["split eval: no anomalies", "split train: no anomalies"]
    assert "ExampleStatistics" in _latest(paths, "StatisticsGen")


def test_drifted_logs_stop_at_the_example_validator(tmp_path):
    """A voice-channel-only export: text and picture shares collapse, audio soars."""
    logs = tmp_path / "logs"
    shutil.copytree(SAMPLE / "attachments", logs / "attachments")
    voice = [t for t in _sample_turns() if t[features.CHANNEL_KEY] == "voice"]
    assert len(voice) > 20
    (logs / "turns.jsonl").write_text("\n".join(json.dumps(t) for t in voice) + "\n")

    paths = config.PipelinePaths(str(tmp_path / "run"))
    with pytest.raises(DataAnomaliesError) as stopped:
        local_runner.run_local(str(logs), paths, beam=BEAM)
    message = str(stopped.value)
    assert "the pipeline stops before any training" in message
    for feature in (features.HAS_TEXT_KEY, features.HAS_IMAGE_KEY, features.HAS_AUDIO_KEY):
        assert f"ERROR   {feature}:" in message
    # The validator ran and recorded the anomalies; the gate produced no passed result.
    assert "ExampleAnomalies" in _latest(paths, "ExampleValidator")
    assert "mmcs.DataValidationResult" not in _latest(paths, "ValidationGate")
