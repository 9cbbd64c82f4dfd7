"""``tune.n_jobs=2`` runs its trials in two ``mmp tune-worker`` processes sharing the stage's
SQLite study: exactly ``n_trials`` finished trials, both workers take part, the stage writes the
results once; a worker killed mid-trial fails the stage in one line, with no worker left behind
(the other one waits at a gate that never opens, so only the stage can end it)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import optuna
import psutil
import pytest

from mmp.core.errors import MMPError
from mmp.pipeline.stages import tune as tune_stage
from tests.conftest import ROOT
from tests.gated_model import CRASH_ENV, GATE_ENV
from tests.tuning_helpers import LGBM, make_workspace, params_dict, stage_args

FINISHED = ("COMPLETE", "PRUNED")
SMALL_LGBM = {**LGBM, "hyperparameters": {**LGBM["hyperparameters"], "n_estimators": 20}}


def only_study(url: str) -> optuna.Study:
    (name,) = optuna.get_all_study_names(url)
    return optuna.load_study(study_name=name, storage=url)


def test_two_worker_processes_run_exactly_n_trials_between_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_workspace(tmp_path, params_dict(SMALL_LGBM, n_trials=4, n_jobs=2, cv={"folds": 2}))
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    monkeypatch.setenv("MMP_TUNE_STORAGE", url)
    monkeypatch.chdir(root)
    tune_stage.main(stage_args(root))

    trials = only_study(url).trials
    assert [t.state.name for t in trials if t.state.name not in FINISHED] == []
    assert len(trials) == 4, "n_trials exactly, over both workers"
    workers = {t.user_attrs["worker"] for t in trials}
    assert len(workers) == 2, f"both worker processes ran trials: {workers}"
    assert not any(w.endswith(f":{os.getpid()}") for w in workers), "the stage itself ran none"
    metrics = json.loads((root / "metrics/tune.json").read_text())
    assert metrics["n_trials"] == 4 and metrics["n_failed"] == 0
    assert json.loads((root / "models/best_params.json").read_text()) == metrics["best_params"]
    assert (root / "metrics/tune/trials.csv").read_text().count("\n") == 5
    assert not tune_workers(), "the workers have exited"


def test_a_killed_worker_fails_the_stage_in_one_line_and_stops_the_other(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    crashing = {
        "class_path": "tests.gated_model.CrashOnceLogisticRegression",
        "hyperparameters": {"C": {"type": "float", "low": 0.01, "high": 10.0, "log": True}},
    }
    root = make_workspace(tmp_path, params_dict(crashing, n_trials=4, n_jobs=2, pruner="none"))
    monkeypatch.setenv("MMP_TUNE_STORAGE", f"sqlite:///{tmp_path / 'optuna.db'}")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # the workers import the test model
    monkeypatch.setenv(CRASH_ENV, str(tmp_path / "crashed"))
    monkeypatch.setenv(GATE_ENV, str(tmp_path / "never-opened"))
    monkeypatch.chdir(root)
    with pytest.raises(MMPError) as err:
        tune_stage.main(stage_args(root))

    message = str(err.value)
    assert len(message.splitlines()) == 1
    assert message.startswith("tune.n_jobs: tune worker ") and "of 2 was killed by SIGKILL" in message, message
    assert not tune_workers(), "the other worker was stopped"
    assert not (root / "metrics/tune.json").exists()


def tune_workers() -> list[psutil.Process]:
    """This process's live `mmp tune-worker` children (an xdist worker may hold others: a Dask
    cluster's or multiprocessing's processes from earlier tests)."""
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() != psutil.STATUS_ZOMBIE and "tune-worker" in " ".join(child.cmdline()):
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found
