"""Distributed tuning against the real PostgreSQL on 127.0.0.1: two ``mmp tune-worker``
processes share one study; a worker killed mid-trial leaves a study that a restarted worker
completes. Each test creates (and drops) its own database.

The recipe's model waits at a gate (tests/gated_model.py) in ``fit``, so a test decides when
trials may finish: both workers hold a trial before any completes, and the trial to kill is
still running when the kill lands, however slow or loaded the machine is."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest

from mmp.core.db import with_driver
from mmp.pipeline.stages import tune as tune_stage
from tests.conftest import ROOT, pipeline_env
from tests.gated_model import GATE_ENV
from tests.tuning_helpers import make_workspace, params_dict, stage_args

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("tune-postgres")]
SERVER = "postgresql://postgres@127.0.0.1:5432"
FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
GATED = {
    "class_path": "tests.gated_model.GatedLogisticRegression",
    "hyperparameters": {"C": {"type": "float", "low": 0.001, "high": 100.0, "log": True}, "max_iter": 200},
}


@pytest.fixture
def postgres_url() -> Iterator[str]:
    psycopg2 = pytest.importorskip("psycopg2")
    from psycopg2 import sql

    try:
        admin = psycopg2.connect(f"{SERVER}/postgres", connect_timeout=3)
    except psycopg2.OperationalError as err:
        pytest.skip(f"PostgreSQL on 127.0.0.1:5432 is not reachable: {str(err).strip()}")
    admin.autocommit = True
    name = f"mmp_optuna_{uuid.uuid4().hex[:12]}"
    with admin.cursor() as cur:
        cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield f"{SERVER}/{name}"
    finally:
        with admin.cursor() as cur:
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.close()


@pytest.fixture
def spawned() -> Iterator[list[subprocess.Popen]]:
    """Workers a test started; any still alive when it ends (a failed test left them waiting at
    the gate) are killed before the database is dropped."""
    procs: list[subprocess.Popen] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)


def start_worker(root: Path, url: str, gate: Path, **env: str) -> subprocess.Popen:
    """A worker whose trials wait until ``gate`` exists; the checkout is on its path for the
    gated model (tests.gated_model)."""
    path = os.pathsep.join((str(ROOT / "src"), str(ROOT)))
    return subprocess.Popen(
        [sys.executable, "-m", "mmp", "tune-worker"],
        cwd=root,
        env=pipeline_env(ROOT, MMP_TUNE_STORAGE=url, PYTHONPATH=path, **{GATE_ENV: str(gate)}, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen, timeout: float = 300) -> dict:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, f"worker exited {proc.returncode}\n{out[-3000:]}\n{err[-3000:]}"
    return json.loads(out.strip().splitlines()[-1])


def only_study(url: str) -> optuna.Study:
    url = with_driver(url, "tune.storage")  # workers get plain postgresql://, which mmp maps to psycopg2
    (name,) = optuna.get_all_study_names(url)
    return optuna.load_study(study_name=name, storage=url)


def test_two_workers_split_the_trials_without_losing_or_duplicating_any(
    tmp_path: Path, postgres_url: str, spawned: list[subprocess.Popen], monkeypatch: pytest.MonkeyPatch
) -> None:
    n_trials = 12
    root = make_workspace(tmp_path, params_dict(GATED, n_trials=n_trials, pruner="none"))
    gate = tmp_path / "gate"
    workers = [start_worker(root, postgres_url, gate) for _ in range(2)]
    spawned += workers
    wait_for_running_trials(postgres_url, workers, n_workers=2)  # each worker holds one: both take part
    gate.touch()
    reports = [finish(w) for w in workers]

    study = only_study(postgres_url)
    trials = study.trials
    assert all(t.state in FINISHED for t in trials), [t.state.name for t in trials]
    assert [t.number for t in trials] == list(range(len(trials))), "no trial lost"
    assert n_trials <= len(trials) <= n_trials + 1, "the budget is shared (at most one trial of overlap)"
    ran = [set(r["ran"]) for r in reports]
    assert all(ran), f"both workers ran trials: {ran}"
    assert not ran[0] & ran[1], "no trial ran twice"
    assert ran[0] | ran[1] == {t.number for t in trials}
    by_worker = {t.number: t.user_attrs["worker"] for t in trials}
    assert len({by_worker[n] for n in ran[0]}) == 1 and len({by_worker[n] for n in ran[1]}) == 1
    last = max(reports, key=lambda r: r["finished_in_study"])
    assert last["best_params"] == study.best_params

    # The stage joins the same study (same recipe, same data), runs nothing more, reads the best.
    monkeypatch.setenv("MMP_TUNE_STORAGE", postgres_url)
    monkeypatch.chdir(root)
    tune_stage.main(stage_args(root))
    assert json.loads((root / "models/best_params.json").read_text()) == study.best_params
    assert json.loads((root / "metrics/tune.json").read_text())["n_trials"] == len(trials)
    assert len(only_study(postgres_url).trials) == len(trials)


def wait_for_running_trials(
    url: str, procs: list[subprocess.Popen], n_workers: int = 1, limit: float = 240
) -> list[optuna.trial.FrozenTrial]:
    """The RUNNING trials once ``n_workers`` distinct workers each hold one (they wait at the
    gate, so they stay RUNNING until the test opens it or kills them)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        for proc in procs:
            assert proc.poll() is None, f"worker ended early: {proc.communicate()}"
        if optuna.get_all_study_names(with_driver(url, "tune.storage")):
            running = only_study(url).get_trials(states=(optuna.trial.TrialState.RUNNING,))
            if len({t.user_attrs["worker"] for t in running if "worker" in t.user_attrs}) >= n_workers:
                return running
        time.sleep(0.1)
    pytest.fail(f"{n_workers} workers did not start a trial within {limit}s")


def test_a_killed_worker_leaves_a_study_that_a_restarted_worker_completes(
    tmp_path: Path, postgres_url: str, spawned: list[subprocess.Popen]
) -> None:
    n_trials, grace = 6, 2
    root = make_workspace(tmp_path, params_dict(GATED, n_trials=n_trials, pruner="none"))
    gate = tmp_path / "gate"
    fast_heartbeat = {"MMP_TUNE_HEARTBEAT": "1", "MMP_TUNE_GRACE": str(grace)}
    doomed = start_worker(root, postgres_url, gate, **fast_heartbeat)
    spawned.append(doomed)
    [killed] = wait_for_running_trials(postgres_url, [doomed])
    os.kill(doomed.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    doomed.wait(timeout=30)
    assert only_study(postgres_url).trials[killed.number].state == optuna.trial.TrialState.RUNNING, "left behind"

    # Stale means "no heartbeat for `grace` seconds", a span of time by definition: a restarted
    # worker that starts before it would count the dead trial as running and stop one short.
    time.sleep(max(0.0, killed_at + grace + 1 - time.monotonic()))
    gate.touch()
    spawned.append(start_worker(root, postgres_url, gate, **fast_heartbeat))
    report = finish(spawned[-1])
    study = only_study(postgres_url)
    states = {t.number: t.state for t in study.trials}
    assert states[killed.number] == optuna.trial.TrialState.FAIL, "the stale trial is failed by heartbeat"
    retries = [t for t in study.trials if optuna.storages.RetryHeartbeatStaleTrialCallback.retried_trial_number(t) == killed.number]
    assert len(retries) == 1 and retries[0].state in FINISHED
    assert retries[0].params == killed.params, "the killed trial is run again with its values"
    assert sum(s in FINISHED for s in states.values()) == n_trials
    assert optuna.trial.TrialState.RUNNING not in states.values()
    assert report["best_params"] == study.best_params
