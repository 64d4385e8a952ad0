"""`mmcs tensorboard` finds the Trainer's run in ML Metadata and serves it."""

import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from pipeline import cli, config, run_history, tensorboard_cli

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("localhost", 0))
        return probe.getsockname()[1]


def _get_json(url: str, timeout_s: float = 120):
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                assert response.status == 200
                return json.load(response)
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def test_finds_the_latest_trainer_run_with_its_event_files(sample_pipeline_run, capsys):
    runs = run_history.trainer_runs(sample_pipeline_run.metadata_path, config.PIPELINE_NAME)
    assert runs and runs[0].state == "COMPLETE"
    events = [
        name for _, _, files in os.walk(runs[0].log_dir) for name in files if "tfevents" in name
    ]
    assert events
    assert cli.main(["tensorboard", "--out", sample_pipeline_run.root, "--list"]) == 0
    shown = capsys.readouterr().out
    assert f"* {runs[0].created:%Y-%m-%d}" in shown and runs[0].log_dir in shown
    assert len([line for line in shown.splitlines() if "execution" in line]) == len(runs)


def test_tensorboard_serves_the_run(sample_pipeline_run):
    log_dir = run_history.trainer_runs(sample_pipeline_run.metadata_path, config.PIPELINE_NAME)[
        0
    ].log_dir
    port = _free_port()
    server = subprocess.Popen(
        tensorboard_cli.tensorboard_command(log_dir, port),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        runs = _get_json(f"http://localhost:{port}/data/runs")
        assert {"train", "validation"} <= set(runs)
        tags = _get_json(f"http://localhost:{port}/data/plugin/scalars/tags")
        train_tags = set(tags["train"])
        assert {"epoch_loss", "epoch_intent_loss", "epoch_sentiment_loss"} <= train_tags
        assert "epoch_learning_rate" in train_tags
        assert "epoch_intent_accuracy" in set(tags["validation"])
    finally:
        server.terminate()
        server.wait(timeout=30)
