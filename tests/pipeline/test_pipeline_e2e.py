"""The TFX pipeline end to end on the embedded sample.

Clean logs pass validation, train, are blessed and pushed; a deliberately worse model is
not blessed and nothing new is pushed; drifted logs stop at the ExampleValidator.
"""

import dataclasses
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest
import tensorflow_model_analysis as tfma

from components.log_example_gen import beam_ingest
from components.validation_gate import spec as gate_spec
from components.validation_gate.executor import DataAnomaliesError
from models import derived_text_versions, features, signatures
from pipeline import config, local_runner, run_outputs, run_report
from serving import batch_predict
from tests.sample_run import ORCHESTRATION_TRAINING, SAMPLE, pushed_versions, sample_records
from tests.sample_run import SAMPLE_BEAM as BEAM
from tests.sample_run import SAMPLE_PROFILE as PROFILE

pytestmark = pytest.mark.slow


def _latest(paths, node):
    return run_outputs.latest_artifact_uris(paths.metadata_path, config.PIPELINE_NAME, node)


@pytest.fixture
def trained(sample_pipeline_run):
    """The session's pipeline run on the sample (tests/conftest.py)."""
    return sample_pipeline_run


def test_sample_is_ingested_and_validated_without_loss(trained):
    quarantine_uri = _latest(trained, "LogExampleGen")["mmcs.QuarantinedLogRecords"]
    summary = beam_ingest.read_summary(quarantine_uri)
    assert summary["records_in"] == len(sample_records())
    assert summary["quarantined"] == 0
    assert summary["examples_per_split"]["train"] > summary["examples_per_split"]["eval"] > 0

    gate_uri = _latest(trained, "ValidationGate")["mmcs.DataValidationResult"]
    report = Path(gate_uri, gate_spec.REPORT_FILE).read_text()
    assert report.splitlines() == ["split eval: no anomalies", "split train: no anomalies"]


def test_sample_model_is_blessed_pushed_and_answers_every_modality(trained, tmp_path):
    blessing = _latest(trained, "Evaluator")["ModelBlessing"]
    assert Path(blessing, "BLESSED").exists()
    assert len(pushed_versions(trained)) == 1
    version_dir = os.path.join(trained.serving_model_dir, pushed_versions(trained)[0])
    assert os.path.exists(os.path.join(version_dir, "assets.extra", "tf_serving_warmup_requests"))
    # Which recognizers wrote the transcripts and picture texts it learned: this machine's.
    assets = os.path.join(version_dir, derived_text_versions.SAVED_MODEL_ASSETS)
    assert derived_text_versions.read(assets) == derived_text_versions.installed()
    run_dir = _latest(trained, "Trainer")["ModelRun"]
    assert any("tfevents" in name for _, _, files in os.walk(run_dir) for name in files)

    out = tmp_path / "predictions.jsonl"
    counts = batch_predict.predict_folder(trained.serving_model_dir, str(SAMPLE), str(out))
    predictions = [json.loads(line) for line in out.read_text().splitlines()]
    assert counts["predicted"] == len(predictions) == len(sample_records())
    combinations = {p["modalities"] for p in predictions}
    assert {"text", "audio", "image+text", "image+audio+text"} <= combinations
    labelled = [
        (p, t)
        for p, t in zip(predictions, sample_records(), strict=True)
        if t[features.INTENT_KEY] is not None
    ]
    for prediction, _ in labelled:
        assert len(prediction[signatures.INTENT_PROBABILITIES_OUTPUT]) == 78
        assert sum(prediction[signatures.INTENT_PROBABILITIES_OUTPUT]) == pytest.approx(1, 1e-3)
    # It learned something: far above chance (1/78) on the turns it trained on.
    correct = sum(p[signatures.INTENT_OUTPUT] == t[features.INTENT_KEY] for p, t in labelled)
    assert correct / len(labelled) > 0.2


def test_predict_refuses_a_model_trained_on_other_recognizers_texts(trained, tmp_path):
    version = pushed_versions(trained)[0]
    model = tmp_path / "model"
    shutil.copytree(os.path.join(trained.serving_model_dir, version), model / version)
    derived_text_versions.write(
        str(model / version / derived_text_versions.SAVED_MODEL_ASSETS),
        "speech=whisper-base-1.0.0-1.0.0-int8-beam1;image_text=rapidocr-1.4.4-clean1",
    )
    with pytest.raises(ValueError, match="trained on transcripts and picture texts of"):
        batch_predict.predict_folder(str(model), str(SAMPLE), str(tmp_path / "out.jsonl"))
    assert not (tmp_path / "out.jsonl").exists()


def test_worse_model_is_not_blessed_and_nothing_is_pushed(trained, capsys):
    before = pushed_versions(trained)
    # A learning rate that leaves the heads at their random initialisation; the text-only
    # orchestration model (tests/sample_run.py), against the session's fused baseline.
    worse = dataclasses.replace(ORCHESTRATION_TRAINING, learning_rate=1e-9)
    local_runner.run_local(
        str(SAMPLE), trained, beam=BEAM, training=worse, blessing=PROFILE.blessing
    )
    evaluator = _latest(trained, "Evaluator")
    assert Path(evaluator["ModelBlessing"], "NOT_BLESSED").exists()
    # Refused by the accuracy bars (intent, and sentiment where the random heads fall
    # under it too), not by an evaluation that failed to run.
    validation = tfma.load_validation_result(evaluator["ModelEvaluation"])
    assert not validation.validation_ok
    failures = [
        failure.metric_key
        for per_slice in validation.metric_validations_per_slice
        for failure in per_slice.failures
    ]
    assert {key.name for key in failures} <= {"intent_accuracy", "sentiment_accuracy"}
    # Both intent bars: the absolute one and the drop against the blessed baseline.
    assert {key.is_diff for key in failures if key.name == "intent_accuracy"} == {False, True}
    assert pushed_versions(trained) == before
    # The run report says so, and why.
    run_report.print_evaluation(evaluator)
    shown = capsys.readouterr().out
    assert "model: NOT BLESSED" in shown
    bar = PROFILE.blessing.min_intent_accuracy
    assert "  intent_accuracy: " in shown and f"below the bar of {bar:.3f}" in shown
    allowed = PROFILE.blessing.max_intent_accuracy_drop
    assert f"against the blessed baseline (allowed drop {allowed:.3f})" in shown
    assert "nothing pushed" in shown


def test_drifted_logs_stop_at_the_example_validator(tmp_path, system_tmp):
    """A voice-channel-only export: text and picture shares collapse, audio soars.

    The failed run also leaves nothing in the temporary directory (TFX alone would leave
    a 49 MB copy of itself there for each Beam component; pipeline/run_tempdir.py).
    """
    logs = tmp_path / "logs"
    shutil.copytree(SAMPLE / "attachments", logs / "attachments")
    voice = [t for t in sample_records() if t[features.CHANNEL_KEY] == "voice"]
    assert len(voice) > 20
    (logs / "turns.jsonl").write_text("\n".join(json.dumps(t) for t in voice) + "\n")

    paths = config.PipelinePaths(str(tmp_path / "run"))
    with pytest.raises(DataAnomaliesError) as stopped:
        local_runner.run_local(str(logs), paths, beam=BEAM)
    message = str(stopped.value)
    assert "the pipeline stops before any training" in message
    for feature in (features.HAS_TEXT_KEY, features.HAS_IMAGE_KEY, features.HAS_AUDIO_KEY):
        assert f"ERROR   {feature}:" in message
    # The validator ran and recorded the anomalies; nothing after the gate ran.
    assert "ExampleAnomalies" in _latest(paths, "ExampleValidator")
    assert not _latest(paths, "Transform") and not _latest(paths, "Trainer")
    assert pushed_versions(paths) == []
    assert tempfile.gettempdir() == str(system_tmp)
    assert list(system_tmp.iterdir()) == []


def test_run_report_shows_every_stage_and_answers(trained, capsys):
    run_report.print_run_results(trained.root)
    run_report.print_demo_predictions(str(SAMPLE), trained.root)
    shown = capsys.readouterr().out
    for section in ("ingestion", "statistics", "data validation", "evaluation", "outputs"):
        assert f"=== {section}" in shown
    # The verdict of the latest evaluation (tests in this module share the pipeline root).
    blessing = _latest(trained, "Evaluator")["ModelBlessing"]
    verdict = "BLESSED" if Path(blessing, "BLESSED").exists() else "NOT BLESSED"
    assert f"model: {verdict}" in shown
    assert f"records in:   {len(sample_records())}" in shown
    # One answer each for a text turn, a picture turn and a voice-only turn.
    answers = [line for line in shown.splitlines() if line.startswith("    -> intent ")]
    assert len(answers) == 3
    assert "[text]" in shown and "[audio]" in shown and "[image" in shown
    # The voice turn is answered over the n-best transcripts, as the chat service does.
    assert re.search(r"answered over [2-5] transcripts of the beam search", shown)
