"""Fixtures shared across test packages.

`sample_pipeline_run` runs the whole TFX pipeline on the embedded sample once per test
session; the pipeline end-to-end tests inspect it, and the serving and chat tests load
the model it pushed (a real trained SavedModel, not a stand-in).
"""

import pytest

from pipeline import config, local_runner
from tests.sample_run import SAMPLE, SAMPLE_BEAM, SAMPLE_PROFILE


@pytest.fixture(scope="session")
def sample_pipeline_run(tmp_path_factory) -> config.PipelinePaths:
    """One full pipeline run on the sample: blessed, and pushed to its serving dir."""
    paths = config.PipelinePaths(str(tmp_path_factory.mktemp("sample-run")))
    local_runner.run_local(
        str(SAMPLE),
        paths,
        beam=SAMPLE_BEAM,
        training=SAMPLE_PROFILE.training,
        blessing=SAMPLE_PROFILE.blessing,
    )
    return paths


@pytest.fixture(scope="session")
def pushed_model_base(sample_pipeline_run) -> str:
    """The TF Serving model base directory (<base>/<version>/) of the sample run.

    Read-only for tests: copy it before adding or removing versions.
    """
    return sample_pipeline_run.serving_model_dir
