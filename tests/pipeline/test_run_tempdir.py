"""The run-scoped temporary directory: used by this process and its children, then gone."""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from pipeline.run_tempdir import TMPDIR_ENV, run_tempdir


def _child_tempdir() -> str:
    return subprocess.run(
        [sys.executable, "-c", "import tempfile; print(tempfile.gettempdir())"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


@pytest.mark.parametrize("tmpdir_env", [None, "/var/tmp"])
def test_the_run_and_its_workers_write_to_a_folder_removed_afterwards(
    system_tmp, monkeypatch, tmpdir_env
):
    if tmpdir_env is None:
        monkeypatch.delenv(TMPDIR_ENV, raising=False)
    else:
        monkeypatch.setenv(TMPDIR_ENV, tmpdir_env)
    with run_tempdir() as scratch:
        assert Path(scratch).parent == system_tmp
        assert tempfile.gettempdir() == scratch
        assert _child_tempdir() == scratch
        leaked = Path(tempfile.mkdtemp()) / "build" / "tfx"
        leaked.mkdir(parents=True)
        (leaked / "setup.py").write_text("left behind")
    assert not Path(scratch).exists()
    assert list(system_tmp.iterdir()) == []
    assert tempfile.gettempdir() == str(system_tmp)
    assert os.environ.get(TMPDIR_ENV) == tmpdir_env


def test_a_failed_run_also_removes_it(system_tmp):
    with pytest.raises(RuntimeError, match="component failed"), run_tempdir() as scratch:
        Path(scratch, "partial").write_text("x")
        raise RuntimeError("component failed")
    assert list(system_tmp.iterdir()) == []
    assert tempfile.gettempdir() == str(system_tmp)
