"""A temporary directory scoped to one pipeline run, removed when the run ends.

TFX, Beam and TF Transform leave files in the system temporary directory on every run.
The largest is TFX's own: `dependency_utils.make_beam_dependency_flags` copies the whole
installed `tfx` package (about 49 MB) and builds a `tfx_ephemeral` sdist from it in a
fresh `mkdtemp()` for every Beam-powered component whenever the Beam arguments name no
`--extra_package`, `--setup_file`, `--requirements_file` or container image, and never
removes it. Beam's stager, TF Transform's analyzers and AutoGraph add small files. A
scheduled `mmcs run` on a long-lived host would fill its disk (592 such directories, 29 GB,
did fill this machine's).

`run_tempdir()` points `tempfile` (in this process) and `TMPDIR` (in the Beam worker
processes it starts) at a fresh directory for the run, then restores both and removes the
directory, also when the run fails.
"""

import contextlib
import multiprocessing.util
import os
import shutil
import tempfile
from collections.abc import Iterator

TMPDIR_ENV = "TMPDIR"
PREFIX = "mmcs-run-"


@contextlib.contextmanager
def run_tempdir() -> Iterator[str]:
    """Runs the block with a fresh temporary directory, removed afterwards.

    Yields:
      the directory's path.
    """
    # multiprocessing keeps the first temporary directory it is asked for for the life of
    # the process; made now, it stays in the real one rather than in the removed folder.
    multiprocessing.util.get_temp_dir()
    scratch = tempfile.mkdtemp(prefix=PREFIX)
    saved_tempdir = tempfile.tempdir
    saved_env = os.environ.get(TMPDIR_ENV)
    tempfile.tempdir = scratch
    os.environ[TMPDIR_ENV] = scratch
    try:
        yield scratch
    finally:
        tempfile.tempdir = saved_tempdir
        if saved_env is None:
            os.environ.pop(TMPDIR_ENV, None)
        else:
            os.environ[TMPDIR_ENV] = saved_env
        shutil.rmtree(scratch, ignore_errors=True)
