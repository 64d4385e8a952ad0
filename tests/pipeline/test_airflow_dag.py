"""`mmcs compile airflow`: the DAG file, parsed by Apache Airflow 2 in .venv-airflow.

Airflow 2.x and the TFX 1.16 set do not co-install in .venv (see requirements-airflow.lock),
so Airflow parses the DAG in its own environment, as a subprocess.
"""

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from pipeline import airflow_runner, cli, compile_cli
from tests.sample_run import SAMPLE

REPO = Path(__file__).resolve().parents[2]
AIRFLOW_PYTHON = REPO / ".venv-airflow" / "bin" / "python"
COMPONENTS = (
    "LogExampleGen",
    "StatisticsGen",
    "ImportSchemaGen",
    "ExampleValidator",
    "ValidationGate",
    "Transform",
    "Trainer",
    "latest_blessed_model_resolver",
    "Evaluator",
    "Pusher",
)
# Run in .venv-airflow: what Airflow's DagBag makes of the DAG folder, as JSON.
DAGBAG_REPORT = """
import json, sys
from airflow.models import DagBag
bag = DagBag(dag_folder=sys.argv[1], include_examples=False)
print(json.dumps({
    "import_errors": {path: str(error) for path, error in bag.import_errors.items()},
    "dags": {
        dag_id: {
            "schedule_interval": dag.schedule_interval,
            "catchup": dag.catchup,
            "start_date": dag.start_date.isoformat(),
            "upstream": {task.task_id: sorted(task.upstream_task_ids) for task in dag.tasks},
        }
        for dag_id, dag in bag.dags.items()
    },
}))
"""


@pytest.fixture(scope="module")
def dag_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("dags")
    code = cli.main(
        [
            "compile",
            "airflow",
            "--out",
            str(folder),
            "--logs",
            str(SAMPLE),
            "--root",
            str(tmp_path_factory.mktemp("airflow-root")),
            "--schedule",
            "30 2 * * *",
            "--start-date",
            "2026-11-01",
            "--profile",
            "sample",
        ]
    )
    assert code == 0
    return folder


@pytest.fixture(scope="module")
def dagbag(dag_folder, tmp_path_factory) -> dict:
    if not AIRFLOW_PYTHON.exists():
        pytest.fail(f"{AIRFLOW_PYTHON} is missing: run `make airflow-venv` (make test does)")
    env = dict(os.environ)
    # A throw-away Airflow home: parsing needs no metadata database.
    env["AIRFLOW_HOME"] = str(tmp_path_factory.mktemp("airflow-home"))
    env["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    env["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"
    # Importing TensorFlow and TFX takes 10-40 s on a busy 2-core machine; Airflow's
    # default budget for parsing one DAG file is 30 s.
    env["AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT"] = "300"
    env.pop("PYTHONPATH", None)
    result = subprocess.run(
        [str(AIRFLOW_PYTHON), "-W", "ignore", "-c", DAGBAG_REPORT, str(dag_folder)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_dag_file_is_small_and_carries_the_settings_as_literals(dag_folder):
    (dag_file,) = dag_folder.iterdir()
    assert dag_file.name == airflow_runner.DAG_FILE_NAME
    text = dag_file.read_text()
    assert "from pipeline import airflow_runner" in text
    assert f"log_dir={str(SAMPLE)!r}" in text
    assert "schedule='30 2 * * *'" in text
    assert "profile='sample'" in text
    assert len(text.splitlines()) < 40


def test_airflow_loads_the_dag_without_import_errors(dagbag):
    assert dagbag["import_errors"] == {}
    assert list(dagbag["dags"]) == ["mmcs"]


def test_dag_has_a_task_per_component_in_pipeline_order(dagbag):
    upstream = dagbag["dags"]["mmcs"]["upstream"]
    assert set(COMPONENTS) <= set(upstream)
    assert "Transform" in upstream["Trainer"]
    assert "Evaluator" in upstream["Pusher"]
    assert "Trainer" in upstream["Evaluator"]
    assert "latest_blessed_model_resolver" in upstream["Evaluator"]
    assert "ExampleValidator" in upstream["ValidationGate"]

    def ancestors(task):
        found, pending = set(), list(upstream[task])
        while pending:
            name = pending.pop()
            if name not in found:
                found.add(name)
                pending.extend(upstream[name])
        return found

    # Nothing trains before the validation gate has passed the data.
    assert "ValidationGate" in ancestors("Transform")
    assert "ValidationGate" in ancestors("Trainer")
    assert "Transform" not in ancestors("ValidationGate")


def test_dag_runs_on_the_compiled_schedule(dagbag):
    dag = dagbag["dags"]["mmcs"]
    assert dag["schedule_interval"] == "30 2 * * *"
    assert dag["catchup"] is False
    assert dag["start_date"].startswith("2026-11-01T00:00:00")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--schedule", "every day"], "schedule 'every day' is neither"),
        (["--start-date", "2026-13-01"], "start date '2026-13-01' is not YYYY-MM-DD"),
        (["--workers", "0"], "--workers must be at least 1"),
        (["--logs", "/no/such/logs"], "--logs '/no/such/logs' is not a folder"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(tmp_path, capsys, args, message):
    argv = ["compile", "airflow", "--out", str(tmp_path / "dags"), "--logs", str(SAMPLE)]
    assert cli.main([*argv, *args]) == compile_cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1
    assert not (tmp_path / "dags").exists()


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    return pins


def test_airflow_lock_adds_airflow_and_overrides_only_what_its_header_lists():
    """.venv-airflow layers these pins over .venv: new packages, or the listed overrides."""
    main = _pins(REPO / "requirements.lock")
    airflow_lock = REPO / "requirements-airflow.lock"
    airflow = _pins(airflow_lock)
    header = "\n".join(
        line for line in airflow_lock.read_text().splitlines() if line.startswith("#")
    )
    overridden = {
        re.sub(r"[-_.]+", "-", name).lower(): (old, new)
        for name, old, new in re.findall(r"([A-Za-z0-9_.-]+) (\S+) -> ([^,\s]+)", header)
    }
    assert airflow["apache-airflow"].startswith("2.")
    assert set(overridden) <= set(airflow)
    for name, version in airflow.items():
        if name in main:
            assert name in overridden, (
                f"{name} {version} in {airflow_lock.name} changes {main[name]} of "
                "requirements.lock without being listed as an override"
            )
            assert (main[name], version) == overridden[name], name
