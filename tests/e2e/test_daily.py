"""The daily loop end to end, in a copy of the repository with a small promoted champion (the
work clone of `mmp simulate`'s first day, shared with tests/e2e/test_simulate.py), the real
registry (a SQLite MLflow store in the copy), the real events store and real `dvc exp run`
retrains: a passing day, and a failing day killed mid-retrain with SIGKILL, re-run, that ends
with the alert and never duplicates an event or a version."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mmp.ops.events import EventStore
from tests.conftest import ROOT, pipeline_env, run
from tests.e2e.conftest import TREES

# One worker, in file order: the runbook deploys version 2, the retrain of the killed day.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("daily")]
# A small, cheap recipe: every retrain is a real `dvc exp run` of it.
CHEAP = ["--set", f"overrides=['model.hyperparameters.n_estimators={TREES}']", "--set", "source.rows=600"]


@pytest.fixture(scope="module")
def champion_repo(first_day: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository whose champion (version 1) is the recipe on 3,000 rows with 50 trees, promoted,
    its distribution model fitted: a copy of the shared simulation's work clone. Its events store
    holds that simulation's day 1 (2026-01-01, passed), before every day these tests run."""
    _repo, day1 = first_day
    return Path(shutil.copytree(day1 / "work", tmp_path_factory.mktemp("daily") / "repo", symlinks=True))


def daily(repo: Path, day: str, *args: str, code: int = 0) -> dict:
    proc = run([sys.executable, "-m", "mmp", "daily", "--date", day, "--json", *CHEAP, *args], repo, timeout=1800, check=False)
    assert proc.returncode == code, proc.stdout + proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def day_events(repo: Path, day: str) -> list:
    with EventStore(f"sqlite:///{repo / 'events.db'}") as store:
        return [e for e in store.list() if e.day.isoformat() == day]


def versions(repo: Path) -> list[str]:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{repo / 'mlflow.db'}")
    return sorted((str(v.version) for v in client.search_model_versions("name = 'credit-default'")), key=int)


def test_a_passing_day_records_each_step_once(champion_repo: Path) -> None:
    result = daily(champion_repo, "2026-01-02")
    assert result["outcome"] == "passed" and result["value"] >= result["threshold"] and result["attempts"] == []
    kinds = [e.kind for e in day_events(champion_repo, "2026-01-02")]
    assert kinds == ["batch", "drift", "evaluation", "gate"]
    assert (champion_repo / "reports/daily/2026-01-02/drift/drift.json").is_file()
    assert daily(champion_repo, "2026-01-02") == result  # re-run: read back, nothing recorded twice
    assert [e.kind for e in day_events(champion_repo, "2026-01-02")] == kinds


def test_a_day_killed_mid_retrain_continues_and_alerts_without_duplicates(champion_repo: Path) -> None:
    before = versions(champion_repo)
    args = [sys.executable, "-m", "mmp", "daily", "--date", "2026-01-03", *CHEAP, "--set", "gate.value=1.01", "--set", "max_attempts=1"]
    proc = subprocess.Popen(
        args,
        cwd=champion_repo,
        env=pipeline_env(champion_repo),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    window = champion_repo / "data/daily/windows/2026-01-03-attempt1.parquet"
    prepared = champion_repo / "data/prepared/train.parquet"
    deadline = time.monotonic() + 1800
    while not (window.is_file() and prepared.is_file() and prepared.stat().st_mtime > window.stat().st_mtime):
        assert proc.poll() is None and time.monotonic() < deadline, "the retrain never reached its training stages"
        time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)  # the day and its `dvc exp run`, mid-retrain
    proc.wait()
    assert [e.kind for e in day_events(champion_repo, "2026-01-03")] == ["batch", "drift", "evaluation", "gate"]

    result = daily(champion_repo, "2026-01-03", "--set", "gate.value=1.01", "--set", "max_attempts=1", code=1)
    assert result["outcome"] == "alert" and len(result["attempts"]) == 1
    events = day_events(champion_repo, "2026-01-03")
    assert [e.kind for e in events] == ["batch", "drift", "evaluation", "gate", "version", "retrain_attempt", "alert"]
    assert len({e.key for e in events}) == len(events)
    attempt = events[5].payload
    assert attempt["strategy"] == "new_seed" and attempt["run_id"] and not attempt["passed"]
    alert = events[6].payload
    assert alert["threshold"] == 1.01 and alert["value"] == result["value"] and alert["attempts"][0]["run_id"] == attempt["run_id"]
    assert versions(champion_repo) == [*before, attempt["version"]]  # exactly one new version
    daily(champion_repo, "2026-01-03", "--set", "gate.value=1.01", "--set", "max_attempts=1", code=1)
    assert len(day_events(champion_repo, "2026-01-03")) == len(events) and len(versions(champion_repo)) == len(before) + 1


RUNBOOK = ROOT / "docs" / "runbook.md"


def runbook_commands() -> list[str]:
    text = RUNBOOK.read_text()
    found = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line in block.splitlines():
            command = re.sub(r"\s+#.*$", "", line).strip()
            if command:
                found.append(command)
    return found


def test_runbook_commands_run_in_order(champion_repo: Path) -> None:
    """Every command of docs/runbook.md, in order, after the tests above (version 2 is the
    retrain of the killed day, which the runbook deploys and rolls back)."""
    commands = runbook_commands()
    assert len(commands) >= 9 and any(c.startswith("mmp rollback") for c in commands)
    for command in commands:
        args = shlex.split(command)
        if args[0] == "mmp":
            args = [sys.executable, "-m", "mmp", *args[1:]]
        proc = run(args, champion_repo, timeout=1800, check=False)
        assert proc.returncode == 0, f"{command}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    with EventStore(f"sqlite:///{champion_repo / 'events.db'}") as store:
        assert [e.version for e in store.list(kind="deployment")] == ["2"]
        assert [e.version for e in store.list(kind="rollback")] == ["1"]


AIRFLOW_REQUIREMENTS = ROOT / "dags" / "requirements.txt"
DAG_RUN = """
import json, sys, importlib.util, pendulum
import airflow.providers.fab.auth_manager.models  # dag_run_note refers to its ab_user table
spec = importlib.util.spec_from_file_location("mmp_daily_dag", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
run = module.dag.test(execution_date=pendulum.parse(sys.argv[2]))
print(json.dumps({"state": run.state, "tasks": {ti.task_id: ti.state for ti in run.get_task_instances()}}))
"""


def airflow_python() -> Path:
    """The Python of a virtualenv holding Airflow as dags/requirements.txt pins it, built once
    under .cache/ (git-ignored) and reused while the pins are unchanged."""
    import hashlib

    digest = hashlib.md5(AIRFLOW_REQUIREMENTS.read_bytes()).hexdigest()[:12]
    venv = ROOT / ".cache" / f"airflow-{digest}"
    python = venv / "bin" / "python"
    if python.is_file():
        return python
    building = venv.with_name(f"{venv.name}.tmp-{os.getpid()}")
    shutil.rmtree(building, ignore_errors=True)
    subprocess.run(["python3.11", "-m", "venv", str(building)], check=True)
    pip = subprocess.run(
        [str(building / "bin" / "python"), "-m", "pip", "install", "-q", "-r", str(AIRFLOW_REQUIREMENTS)], capture_output=True, text=True
    )
    if pip.returncode != 0:
        shutil.rmtree(building, ignore_errors=True)
        if any(s in pip.stderr for s in ("Could not find a version", "NewConnectionError", "Temporary failure in name resolution")):
            pytest.skip(f"PyPI is unreachable, Airflow cannot be installed: {pip.stderr.strip().splitlines()[-1]}")
        pytest.fail(f"installing Airflow failed:\n{pip.stderr[-3000:]}")
    os.replace(building, venv)  # only bin/python is used: the venv's scripts' shebangs never run
    return python


def dag_test(repo: Path, tmp: Path, day: str, **env: str) -> dict:
    python = airflow_python()
    home = tmp / "airflow"
    settings = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "MMP_REPO": str(repo),
        "MMP_COMMAND": f"env PYTHONPATH={repo / 'src'} {sys.executable} -m mmp",
        **env,
    }
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")} | settings
    if not (home / "airflow.db").is_file():
        subprocess.run([str(python), "-m", "airflow", "db", "migrate"], env=clean, capture_output=True, check=True, timeout=600)
    proc = subprocess.run(
        [str(python), "-c", DAG_RUN, str(ROOT / "dags" / "daily.py"), day], env=clean, capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_airflow_dag_runs_the_day_and_its_retry_branches(champion_repo: Path, tmp_path: Path) -> None:
    passing = dag_test(champion_repo, tmp_path, "2026-01-06")
    assert passing["state"] == "success", passing
    tasks = passing["tasks"]
    assert {t for t, s in tasks.items() if s == "success"} == {"batch", "drift", "evaluate", "gate", "branch_gate", "done"}
    assert {t for t, s in tasks.items() if s == "skipped"} == {
        "decide",
        *(f"{k}_{n}" for k in ("retrain", "branch_retrain") for n in (1, 2, 3)),
    }
    # The killed day of the test above, its attempt read back from the events: the retry branch
    # runs attempt 1, then decide raises the alert and fails the run.
    failing = dag_test(
        champion_repo, tmp_path, "2026-01-03", MMP_MAX_ATTEMPTS="1", MMP_DAILY_ARGS="--set gate.value=1.01 --set max_attempts=1"
    )
    assert failing["state"] == "failed", failing
    assert failing["tasks"]["retrain_1"] == "success" and failing["tasks"]["branch_retrain_1"] == "success"
    assert failing["tasks"]["decide"] == "failed" and failing["tasks"]["done"] == "skipped"
