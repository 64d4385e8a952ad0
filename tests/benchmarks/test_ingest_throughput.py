"""The ingestion benchmark's cold derived-text cache and its report."""

import os

import pytest

from benchmarks.ingest_throughput import (
    _cold_derived_text_cache,
    _derived_texts,
    _report,
    _results_name,
    run,
)
from models import derived_text_cache


def test_a_cold_cache_keeps_the_joined_models_but_no_derived_text(tmp_path, monkeypatch):
    warm = tmp_path / "warm"
    (warm / "whisper-base").mkdir(parents=True)
    (warm / "whisper-base" / "model.bin").write_text("weights")
    for folder in derived_text_cache.DERIVED_TEXT_FOLDERS:
        (warm / folder / "v1" / "ab").mkdir(parents=True)
        (warm / folder / "v1" / "ab" / "abcd-en.txt").write_text("hello")
    monkeypatch.setenv(derived_text_cache.CACHE_ENV, str(warm))
    assert _derived_texts(warm) == 2

    with _cold_derived_text_cache(tmp_path / "work") as cold:
        assert os.environ[derived_text_cache.CACHE_ENV] == str(cold)
        assert derived_text_cache.cache_root() == cold
        assert (cold / "whisper-base" / "model.bin").read_text() == "weights"
        assert _derived_texts(cold) == 0
        (cold / derived_text_cache.TRANSCRIPTS_FOLDER / "v1").mkdir(parents=True)
        (cold / derived_text_cache.TRANSCRIPTS_FOLDER / "v1" / "ef01-en.txt").write_text("hi")
        assert _derived_texts(cold) == 1
    assert os.environ[derived_text_cache.CACHE_ENV] == str(warm)
    assert not cold.exists()
    assert (warm / "whisper-base" / "model.bin").exists() and _derived_texts(warm) == 2


def test_cold_runs_are_refused_on_dask_and_reported_with_their_ratio(tmp_path):
    with pytest.raises(ValueError, match="--runner direct"):
        run(tmp_path, tmp_path, tmp_path, 1, runner="all", corpus=tmp_path, cache="both")
    assert _results_name("warm") == "ingest_throughput"
    assert _results_name("both") == "ingest_throughput_recognizers"
    result = {
        "date": "2026-11-30",
        "machine": {"cpus": 2},
        "runner": "Beam DirectRunner",
        "corpus": {"turns": 300, "bytes": 3e6},
        "corpus_path": "corpus/sample",
        "seconds": {"direct-1": [10.0, 12.0], "direct-1-cold": [90.0, 80.0]},
        "turns_per_second_best": {"direct-1": 30.0, "direct-1-cold": 3.75},
        "derived_texts_recognized": {"direct-1-cold": [290, 290]},
        "cold_vs_warm_seconds_best": {"direct-1-cold": 8.0},
        "summary": {"examples_out": 300, "quarantined": 0},
    }
    report = _report(result)
    assert "| DirectRunner | 1 | cold | 90.0, 80.0 | 3.8 |" in report
    assert "| DirectRunner | 1 | warm | 10.0, 12.0 | 30.0 |" in report
    assert "**direct-1, cold vs warm derived-text cache: 8.0x the time**" in report
    assert "recognized 290, 290 transcripts and picture texts" in report
