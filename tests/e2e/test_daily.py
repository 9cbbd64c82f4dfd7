"""The daily loop end to end, in a copy of the repository with a small promoted champion, the
real registry (a SQLite MLflow store in the copy), the real events store and real `dvc exp run`
retrains: a passing day, and a failing day killed mid-retrain with SIGKILL, re-run, that ends
with the alert and never duplicates an event or a version."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mmp.ops.events import EventStore
from tests.conftest import make_repo_copy, pipeline_env, run

pytestmark = pytest.mark.slow
# A small, cheap recipe: every retrain is a real `dvc exp run` of it.
RECIPE = ["data.rows=3000", "model.hyperparameters.n_estimators=50"]
CHEAP = ["--set", "overrides=['model.hyperparameters.n_estimators=50']", "--set", "source.rows=600"]


@pytest.fixture(scope="module")
def champion_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = make_repo_copy(tmp_path_factory.mktemp("daily") / "repo")
    run(["dvc", "exp", "run", *(a for o in RECIPE for a in ("-S", o))], repo)
    run([sys.executable, "-m", "mmp", "promote"], repo)
    run([sys.executable, "-m", "mmp", "synth", "fit"], repo)
    return repo


def daily(repo: Path, day: str, *args: str, code: int = 0) -> dict:
    proc = run([sys.executable, "-m", "mmp", "daily", "--date", day, "--json", *CHEAP, *args], repo, check=False)
    assert proc.returncode == code, proc.stdout + proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def day_events(repo: Path, day: str) -> list:
    with EventStore(f"sqlite:///{repo / 'events.db'}") as store:
        return [e for e in store.list() if e.day.isoformat() == day]


def versions(repo: Path) -> list[str]:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{repo / 'mlflow.db'}")
    return sorted(v.version for v in client.search_model_versions("name = 'credit-default'"))


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
        args, cwd=champion_repo, env=pipeline_env(champion_repo), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    window = champion_repo / "data/daily/windows/2026-01-03-attempt1.parquet"
    prepared = champion_repo / "data/prepared/train.parquet"
    deadline = time.monotonic() + 600
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
