"""The mmcs command line as a user runs it: exit codes and messages, no tracebacks."""

import json
import subprocess
import sys

import pytest

from tests import log_folders


def _mmcs(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        check=False,
    )


@pytest.mark.slow
def test_ingest_mixed_folder_converts_good_and_quarantines_bad(tmp_path):
    records = log_folders.write_mixed_folder(tmp_path / "logs")
    result = _mmcs("ingest", str(tmp_path / "logs"), "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    good = sum(1 for _, reason in records if reason is None)
    assert f"records in:   {len(records)}" in result.stdout
    assert f"examples out: {good}" in result.stdout
    assert f"quarantined:  {len(records) - good}" in result.stdout
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["records_in"] == summary["examples_out"] + summary["quarantined"]
    quarantined = (tmp_path / "out" / "quarantine.jsonl").read_text().splitlines()
    assert len(quarantined) == len(records) - good


def test_ingest_garbage_folder_fails_cleanly(tmp_path):
    log_folders.write_garbage_folder(tmp_path / "logs")
    result = _mmcs("ingest", str(tmp_path / "logs"), "--out", str(tmp_path / "out"))
    assert result.returncode == 1
    assert "none of the 4 records" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_ingest_missing_folder_is_a_usage_error(tmp_path):
    result = _mmcs("ingest", str(tmp_path / "nope"), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "is not a folder" in result.stderr
    assert "Traceback" not in result.stderr


def test_corpus_without_shared_data_names_what_is_missing(tmp_path):
    csv = tmp_path / "q.csv"
    csv.write_text("text,category\nwhere is my card,card_arrival\n")
    result = _mmcs(
        "corpus",
        "--banking77",
        str(csv),
        "--shared-data",
        str(tmp_path),
        "--out",
        str(tmp_path / "c"),
        "--size",
        "20",
    )
    assert result.returncode == 2
    assert "not found" in result.stderr and "Traceback" not in result.stderr
