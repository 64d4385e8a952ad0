"""The throughput benchmark reruns the real Trainer component alone and the bare loop on
the same data, alternating, and compares their steady epochs."""

import dataclasses
import shutil
from pathlib import Path

import pytest

from benchmarks import trainer_throughput
from pipeline import config, run_outputs
from tests.sample_run import ORCHESTRATION_TRAINING, SAMPLE, SAMPLE_PROFILE


def epoch(seconds: float, examples_per_second: float, steps: int = 10) -> dict:
    return {
        "epoch": 0,
        "seconds": seconds,
        "steps": steps,
        "examples_per_second_upper_bound": examples_per_second,
    }


def test_steady_rate_leaves_out_the_first_epoch():
    epochs = [epoch(100.0, 1.0), epoch(2.0, 50.0), epoch(3.0, 40.0)]
    # (2 * 50 + 3 * 40) examples in 5 seconds.
    assert trainer_throughput.steady_examples_per_second(epochs) == pytest.approx(44.0)
    with pytest.raises(ValueError, match="at least two epochs"):
        trainer_throughput.steady_examples_per_second(epochs[:1])


def test_rounds_alternate_which_side_trains_first(monkeypatch, tmp_path):
    calls = []

    def fake_trainer(logs, root, training, split):
        calls.append("tfx_trainer")
        return {"seconds": 12.0, "epochs": [epoch(5.0, 10.0), epoch(4.0, 30.0)]}

    def fake_bare(root, training, run_dir):
        calls.append("bare_keras")
        return {"seconds": 9.0, "epochs": [epoch(5.0, 10.0), epoch(4.0, 40.0)]}

    monkeypatch.setattr(trainer_throughput, "tfx_trainer_run", fake_trainer)
    monkeypatch.setattr(trainer_throughput, "bare_keras_run", fake_bare)
    rounds = trainer_throughput.measure(
        tmp_path, tmp_path, ORCHESTRATION_TRAINING, config.SplitBuckets(), rounds=3
    )
    assert calls == ["tfx_trainer", "bare_keras", "bare_keras", "tfx_trainer"] + [
        "tfx_trainer",
        "bare_keras",
    ]
    assert [r["order"][0] for r in rounds] == ["tfx_trainer", "bare_keras", "tfx_trainer"]
    assert all(r["ratio"] == pytest.approx(0.75) for r in rounds)
    assert rounds[0]["tfx_trainer"]["seconds_outside_epochs"] == pytest.approx(3.0)
    summary = trainer_throughput.summarize(rounds, batch_size=16)
    assert summary["tfx_vs_bare_ratio_median"] == pytest.approx(0.75)
    # 10 steps of 16 in the fastest steady epoch: 4 s on either side.
    assert summary["tfx_vs_bare_fastest_epoch_ratio"] == pytest.approx(1.0)
    assert summary["bare_keras_seconds_outside_epochs_median"] == pytest.approx(0.0)


def test_report_shows_every_round_and_the_median_ratio(tmp_path):
    def side(rate, epoch_seconds=(30.0, 20.0)):
        return {
            "seconds": 60.0,
            "epoch_seconds": list(epoch_seconds),
            "steps_per_epoch": 12,
            "examples_per_second": rate,
            "seconds_outside_epochs": 10.0,
        }

    rounds = [
        {"round": 0, "order": ["tfx_trainer", "bare_keras"], "ratio": 0.9},
        {"round": 1, "order": ["bare_keras", "tfx_trainer"], "ratio": 1.1},
    ]
    rounds[0] |= {"tfx_trainer": side(9.0), "bare_keras": side(10.0, [30.0, 16.0])}
    rounds[1] |= {"tfx_trainer": side(11.0), "bare_keras": side(10.0)}
    result = {
        "date": "2026-12-07",
        "machine": {
            "cpus": 2,
            "cpu_model": "cpu",
            "platform": "linux",
            "python": "3.10",
            "load_average_1m_before": 1.0,
            "load_average_1m_after": 2.0,
        },
        "logs": "corpus/sample",
        "train_turns": 200,
        "eval_turns": 20,
        "split": "9:1",
        "epochs": 2,
        "batch_size": 16,
        "seed": 0,
        "pipeline_seconds": 300.0,
        "rounds": rounds,
        "summary": trainer_throughput.summarize(rounds, batch_size=16),
    }
    json_path, md_path = trainer_throughput.write_report(tmp_path, result, "tt")
    report = md_path.read_text()
    assert "**TFX Trainer / bare loop: 1.000** (median of 2 rounds; range 0.900-1.100)" in report
    assert (
        "| 0 | Trainer then bare | 9.0 | 10.0 | 0.900 | 60 (10) | 60 (10) | 30, 20 | 30, 16 |"
        in report
    )
    # 12 steps of 16: 9.6 examples/s in 20 s, 12.0 in 16 s.
    assert "9.6 against 12.0 examples/s, **ratio 0.800**" in report
    assert "| 1 | bare then Trainer | 11.0 | 10.0 | 1.100 |" in report
    assert json_path.exists()


@pytest.mark.slow
def test_one_round_reruns_the_trainer_alone_and_trains_the_bare_loop_alike(
    sample_pipeline_run, tmp_path
):
    # The session's sample run, in a root of its own: its metadata copied, so the
    # upstream artifacts are the session's and the new Trainer output goes here.
    root = tmp_path / "root"
    paths = config.PipelinePaths(str(root))
    root.mkdir()
    shutil.copy(sample_pipeline_run.metadata_path, paths.metadata_path)

    def latest(node):
        return run_outputs.latest_artifact_uris(paths.metadata_path, config.PIPELINE_NAME, node)

    before = {node: latest(node) for node in ("LogExampleGen", "Transform", "Trainer")}
    training = dataclasses.replace(ORCHESTRATION_TRAINING, epochs=2)
    [round_] = trainer_throughput.measure(SAMPLE, root, training, SAMPLE_PROFILE.split, rounds=1)

    # The Trainer ran again (cache off), alone: ExampleGen and Transform did not.
    assert latest("LogExampleGen") == before["LogExampleGen"]
    assert latest("Transform") == before["Transform"]
    trainer = latest("Trainer")
    assert trainer["Model"] != before["Trainer"]["Model"]
    assert trainer["Model"].startswith(paths.pipeline_root)
    assert Path(trainer["Model"], "Format-Serving", "saved_model.pb").exists()

    assert round_["order"] == ["tfx_trainer", "bare_keras"]
    tfx_side, bare = round_["tfx_trainer"], round_["bare_keras"]
    # Same examples, same batches: the same steps each epoch.
    assert tfx_side["steps_per_epoch"] == bare["steps_per_epoch"] > 0
    assert len(tfx_side["epoch_seconds"]) == len(bare["epoch_seconds"]) == 2
    assert round_["ratio"] == pytest.approx(
        tfx_side["examples_per_second"] / bare["examples_per_second"]
    )
    # The Trainer also calibrates and exports; the bare loop only trains.
    assert tfx_side["seconds_outside_epochs"] > bare["seconds_outside_epochs"]
    assert (
        root / trainer_throughput.BARE_RUNS_FOLDER / "round0" / "training_metrics.json"
    ).exists()
