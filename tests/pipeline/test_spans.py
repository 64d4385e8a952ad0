"""Scheduled incremental runs over dated log folders: one span per run, a window of spans
for training, caching, resuming a run that died, and a bad span that stops its run.

The sample is split by session into two days; one pipeline root sees, in order:
  1. day 1, with a Trainer that crashes after one step (a run killed half-way);
  2. day 1 again, healthy: everything before the Trainer comes from the cache;
  3. day 2 added: only day 2 is ingested, Transform and the Trainer read both days;
  4. nothing new: every component is cached;
  5. a drifted day 3 (voice-only turns): the run stops at validation.
"""

import dataclasses
import datetime
import json
import shutil

import pytest
from tfx.types import artifact_utils, standard_artifacts

from components.log_example_gen import beam_ingest
from components.validation_gate.component import ValidationGate
from components.validation_gate.executor import DataAnomaliesError
from models import features
from pipeline import config, local_runner, run_history, run_outputs, span_window
from pipeline.evaluation import BlessingThresholds
from tests.sample_run import ORCHESTRATION_TRAINING as TRAINING
from tests.sample_run import SAMPLE, pushed_versions, sample_records
from tests.sample_run import SAMPLE_BEAM as BEAM

pytestmark = pytest.mark.slow

DAYS = ("2026-11-01", "2026-11-02", "2026-11-03")
# Days since 1970-01-01: the span numbers TFX's {YYYY}-{MM}-{DD} date spec gives them.
SPANS = tuple((datetime.date.fromisoformat(day) - datetime.date(1970, 1, 1)).days for day in DAYS)
WINDOW = 2
# One epoch of the text-only model (tests/sample_run.py); any trained model is blessed,
# so every healthy run pushes a version.
BLESSING = BlessingThresholds(
    min_intent_accuracy=0.0, min_sentiment_accuracy=0.0, max_intent_accuracy_drop=1.0
)
HEAVY = ("LogExampleGen", "StatisticsGen", "ExampleValidator", "Transform", "Trainer")


def _write_day(logs, day: str, turns: list[dict]) -> None:
    """A self-contained day folder: its turns and the attachments they reference."""
    folder = logs / day
    folder.mkdir(parents=True)
    for turn in turns:
        for field in (features.IMAGE_KEY, features.AUDIO_KEY):
            if turn.get(field):
                (folder / turn[field]).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(SAMPLE / turn[field], folder / turn[field])
    (folder / "turns.jsonl").write_text("".join(json.dumps(t) + "\n" for t in turns))


def _run(logs, paths, training=TRAINING):
    local_runner.run_local(
        str(logs), paths, beam=BEAM, training=training, blessing=BLESSING, span_window=WINDOW
    )


def _last_run(paths) -> run_history.PipelineRun:
    return run_history.pipeline_runs(paths.metadata_path, config.PIPELINE_NAME)[-1]


def _spans_read(paths, run: run_history.PipelineRun, node_id: str) -> list[int]:
    execution = next(e for e in run.executions if e.node_id == node_id)
    examples = run_history.input_artifacts(paths.metadata_path, execution.execution_id, "Examples")
    return sorted(a.custom_properties["span"].int_value for a in examples)


@dataclasses.dataclass
class SpanHistory:
    paths: config.PipelinePaths
    day_turns: list[list[dict]]
    runs: list[run_history.PipelineRun]
    versions: list[list[str]]
    summaries: list[dict]
    errors: list[BaseException | None]


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> SpanHistory:
    root = tmp_path_factory.mktemp("spans")
    logs, paths = root / "logs", config.PipelinePaths(str(root / "run"))
    turns = sample_records()
    sessions = sorted({t[features.SESSION_ID_KEY] for t in turns})
    first_day = set(sessions[: len(sessions) // 2])
    day_turns = [
        [t for t in turns if t[features.SESSION_ID_KEY] in first_day],
        [t for t in turns if t[features.SESSION_ID_KEY] not in first_day],
        [t for t in turns if t[features.CHANNEL_KEY] == "voice"],
    ]
    result = SpanHistory(paths, day_turns, [], [], [], [])

    def record(error=None):
        result.runs.append(_last_run(paths))
        result.versions.append(pushed_versions(paths))
        quarantine_uri = run_outputs.latest_artifact_uris(
            paths.metadata_path, config.PIPELINE_NAME, "LogExampleGen"
        )["mmcs.QuarantinedLogRecords"]
        result.summaries.append(beam_ingest.read_summary(quarantine_uri))
        result.errors.append(error)

    _write_day(logs, DAYS[0], day_turns[0])
    # The Trainer loads run_fn's module itself: match TrainingInterrupted by its message.
    with pytest.raises(RuntimeError, match="fail_after_steps=1") as crashed:
        _run(logs, paths, dataclasses.replace(TRAINING, fail_after_steps=1))
    record(crashed.value)
    _run(logs, paths)
    record()
    _write_day(logs, DAYS[1], day_turns[1])
    _run(logs, paths)
    record()
    _run(logs, paths)
    record()
    _write_day(logs, DAYS[2], day_turns[2])
    with pytest.raises(DataAnomaliesError) as stopped:
        _run(logs, paths)
    record(stopped.value)
    return result


def test_a_run_that_died_in_the_trainer_resumes_from_the_cache(history):
    crashed, resumed = history.runs[0].states(), history.runs[1].states()
    assert crashed["Transform"] == "COMPLETE" and crashed["Trainer"] == "FAILED"
    assert "Pusher" not in crashed and history.versions[0] == []
    for node in ("LogExampleGen", "StatisticsGen", "ExampleValidator", "Transform"):
        assert resumed[node] == "CACHED", (node, resumed)
    assert resumed["Trainer"] == resumed["Pusher"] == "COMPLETE"
    assert len(history.versions[1]) == 1
    # No duplicates: one Examples and one TransformGraph per span that was ingested.
    store_path, name = history.paths.metadata_path, config.PIPELINE_NAME
    examples = run_history.output_artifacts(store_path, name, "LogExampleGen", "Examples")
    graphs = run_history.output_artifacts(store_path, name, "Transform", "TransformGraph")
    spans = sorted(a.custom_properties["span"].int_value for a in examples)
    assert spans == list(SPANS)  # day 1, day 2 and the drifted day 3, once each
    # Transform ran for the window {day 1} and for {day 1, day 2}; day 3 never got there.
    assert len(graphs) == 2


def test_each_run_ingests_only_its_new_span(history):
    day1, day2 = (len(turns) for turns in history.day_turns[:2])
    assert history.summaries[1]["records_in"] == day1
    assert history.summaries[2]["records_in"] == day2
    assert history.summaries[2]["examples_out"] == day2
    assert history.runs[2].states()["LogExampleGen"] == "COMPLETE"
    assert history.summaries[4]["records_in"] == len(history.day_turns[2])


def test_the_window_hands_both_spans_to_transform_and_trainer(history):
    run = history.runs[2]
    assert _spans_read(history.paths, run, "Transform") == list(SPANS[:2])
    assert _spans_read(history.paths, run, "Trainer") == list(SPANS[:2])
    # The Evaluator judges the candidate on the new span only.
    assert _spans_read(history.paths, run, "Evaluator") == [SPANS[1]]
    assert _spans_read(history.paths, history.runs[1], "Trainer") == [SPANS[0]]
    assert len(history.versions[2]) == 2


def test_a_rerun_with_nothing_new_executes_no_heavy_component(history):
    states = history.runs[3].states()
    for node in HEAVY + ("Evaluator", "Pusher"):
        assert states[node] == "CACHED", (node, states)
    assert not [n for n, s in states.items() if s not in ("CACHED", "COMPLETE")]
    assert history.versions[3] == history.versions[2]


def test_a_drifted_span_stops_at_validation_and_the_served_model_stays(history):
    assert "the pipeline stops before any training" in str(history.errors[4])
    states = history.runs[4].states()
    assert states["LogExampleGen"] == "COMPLETE" and states["ValidationGate"] == "FAILED"
    assert not {"Transform", "Trainer", "Evaluator", "Pusher"} & set(states)
    assert history.versions[4] == history.versions[3]
    # The failed span is kept out of later windows: the window strategy skips spans whose
    # validation did not pass, so a window of 2 is still days 1 and 2.
    store = run_history.open_store(history.paths.metadata_path)
    examples = run_history.output_artifacts(
        history.paths.metadata_path, config.PIPELINE_NAME, "LogExampleGen", "Examples"
    )
    candidates = artifact_utils.deserialize_artifacts(
        standard_artifacts.Examples._get_artifact_type(), examples
    )
    strategy = span_window.ValidatedSpanWindowStrategy(
        span_window.rolling_window(WINDOW), ValidationGate.get_class_type()
    )
    resolved = strategy.resolve_artifacts(store, {"examples": candidates})
    assert sorted(span_window.span_of(a) for a in resolved["examples"]) == list(SPANS[:2])
