"""Fixtures of the pipeline tests."""

import multiprocessing.util
import tempfile

import pytest


@pytest.fixture
def system_tmp(tmp_path, monkeypatch):
    """An empty folder standing in for the system temporary directory during the test."""
    multiprocessing.util.get_temp_dir()  # the process's own, kept for its whole life
    folder = tmp_path / "system-tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder
