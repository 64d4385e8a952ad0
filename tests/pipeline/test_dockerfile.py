"""The pipeline image's Dockerfile, checked statically (no Docker engine runs here).

What the compiled Kubeflow spec expects of the image: the locked packages, the packages
its steps import, the schema where ImportSchemaGen reads it, and `python` that runs TFX's
KFP v2 launcher.
"""

import fnmatch
import json
import re
import shlex
from pathlib import Path

import pytest
from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner

from pipeline import compile_cli, kubeflow_runner
from pipeline.pipeline import PREPROCESSING_FN, RUN_FN

REPO = Path(__file__).resolve().parents[2]
PIPELINE_PACKAGES = ("pipeline", "components", "models", "schemas")


def _instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per Dockerfile instruction, continuation lines joined."""
    text = re.sub(r"\\\n", " ", path.read_text())
    instructions = []
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            instructions.append((keyword.upper(), " ".join(rest.split())))
    return instructions


@pytest.fixture(scope="module")
def stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile's build stages, each a list of instructions starting with FROM."""
    result = []
    for instruction in _instructions(REPO / "Dockerfile"):
        if instruction[0] == "FROM":
            result.append([])
        result[-1].append(instruction)
    return result


def _args(stage, keyword) -> list[str]:
    return [args for key, args in stage if key == keyword]


def test_every_stage_is_python_3_10_slim(stages):
    assert [stage[0][1].split()[0] for stage in stages] == ["python:3.10-slim"] * len(stages)


def test_build_stage_installs_the_lock_exactly_and_the_mmcs_package(stages):
    build = stages[0]
    runs = _args(build, "RUN")
    copies = _args(build, "COPY")
    assert "requirements.lock /tmp/requirements.lock" in copies
    assert any("pip install --no-cache-dir --no-deps -r /tmp/requirements.lock" in r for r in runs)
    assert any("pip install --no-cache-dir --no-deps --no-build-isolation ." in r for r in runs)
    # The lock has C/C++ source packages (pyfarmhash); they need a compiler.
    assert any("build-essential" in r for r in runs)
    # The lock is installed before the sources are copied: code edits keep the layer cached.
    lock_install = next(
        i for i, (k, a) in enumerate(build) if "requirements.lock" in a and k == "RUN"
    )
    first_source = next(i for i, (k, a) in enumerate(build) if k == "COPY" and "pipeline/" in a)
    assert lock_install < first_source


def test_image_holds_the_packages_the_spec_steps_import(stages):
    build, runtime = stages[0], stages[-1]
    assert _args(build, "WORKDIR") == [kubeflow_runner.IMAGE_SOURCE_DIR]
    assert _args(runtime, "WORKDIR") == [kubeflow_runner.IMAGE_SOURCE_DIR]
    copied = {args.split()[0].rstrip("/") for args in _args(build, "COPY")}
    assert set(PIPELINE_PACKAGES) <= copied
    # User code the spec names by module path, and every custom executor, is in them.
    spec_modules = [RUN_FN, PREPROCESSING_FN, "components.log_example_gen.executor.Executor"]
    spec_modules.append("pipeline.kubeflow_example_validator.Executor")
    assert {module.split(".")[0] for module in spec_modules} <= set(PIPELINE_PACKAGES)
    # ImportSchemaGen reads the schema from the copied sources.
    schema = Path(kubeflow_runner.IMAGE_SCHEMA_PATH).relative_to(kubeflow_runner.IMAGE_SOURCE_DIR)
    assert schema.parts[0] in copied and (REPO / schema).is_file()
    assert (
        f"--from=build {kubeflow_runner.IMAGE_SOURCE_DIR} {kubeflow_runner.IMAGE_SOURCE_DIR}"
        in (_args(runtime, "COPY"))
    )


def test_python_on_path_is_the_locked_environment_and_runs_tfx_launcher(stages):
    runtime = stages[-1]
    assert "--from=build /opt/venv /opt/venv" in _args(runtime, "COPY")
    assert any(args.startswith("PATH=/opt/venv/bin:$PATH") for args in _args(runtime, "ENV"))
    (entrypoint,) = _args(runtime, "ENTRYPOINT")
    assert tuple(json.loads(entrypoint)) == kubeflow_v2_dag_runner.KUBEFLOW_TFX_CMD
    assert kubeflow_v2_dag_runner.KUBEFLOW_TFX_CMD[0] == "python"


def test_dockerignore_keeps_what_the_build_copies_and_drops_the_rest(stages):
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]

    def ignored(path: str) -> bool:
        result = False
        top = path.split("/", maxsplit=1)[0]
        for line in patterns:
            pattern = line.lstrip("!").rstrip("/")
            if fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(top, pattern):
                result = not line.startswith("!")
        return result

    sources = [
        source
        for args in _args(stages[0], "COPY")
        if not args.startswith("--from")
        for source in shlex.split(args)[:-1]
    ]
    assert "setup.py" in sources
    for source in sources:
        assert not ignored(source.rstrip("/")), source
    for heavy in (".venv/bin/python", "runs/local", "corpus/sample/a.jsonl", ".git/HEAD"):
        assert ignored(heavy), heavy


def test_readme_builds_the_image_the_spec_names_by_default():
    readme = (REPO / "README.md").read_text()
    assert "make image" in readme
    assert f"{compile_cli.IMAGE_NAME}:<version>" in readme or compile_cli.default_image() in readme
