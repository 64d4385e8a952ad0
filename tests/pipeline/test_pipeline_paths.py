"""Where a pipeline instance keeps its artifacts: a local root is absolute, so the URIs ML
Metadata records under it resolve from any working directory."""

import os

from pipeline import config


def test_a_relative_root_is_made_absolute_where_it_is_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    paths = config.PipelinePaths("runs/bench")
    monkeypatch.chdir("/")
    assert paths.root == str(tmp_path / "runs" / "bench")
    assert paths.pipeline_root == str(tmp_path / "runs" / "bench" / "pipeline")
    assert paths.metadata_path == str(tmp_path / "runs" / "bench" / "metadata.sqlite")
    assert os.path.isabs(paths.serving_model_dir)
    # The same place spelled either way is the same instance.
    assert paths == config.PipelinePaths(str(tmp_path / "runs" / "bench"))


def test_a_remote_root_is_kept_as_given():
    paths = config.PipelinePaths("gs://bucket/mmcs")
    assert paths.root == "gs://bucket/mmcs"
    assert paths.pipeline_root == "gs://bucket/mmcs/pipeline"
