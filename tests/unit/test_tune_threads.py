"""Thread budget of parallel trials: with tune.n_jobs trials at once, each estimator gets an equal
share of the cores, so LightGBM's threads no longer oversubscribe them."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import lightgbm
import numpy as np
import optuna
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import Ridge

from mmp.cli import main as cli_main
from mmp.core.config import ModelConfig
from mmp.core.threads import available_cores, cores_are_busy
from mmp.pipeline.stages import run_stage
from mmp.tuning.objective import Objective, Problem
from mmp.tuning.search import run_trials
from mmp.tuning.threads import cap_threads, threads_per_trial
from tests.conftest import ROOT

optuna.logging.set_verbosity(optuna.logging.WARNING)
RECIPE = ModelConfig(
    class_path="lightgbm.LGBMClassifier",
    hyperparameters={"n_estimators": 5, "n_jobs": 2, "verbose": -1, "num_leaves": {"type": "int", "low": 4, "high": 8}},
)


@pytest.mark.parametrize(("trials", "cores", "expected"), [(1, 2, 2), (2, 2, 1), (3, 2, 1), (2, 16, 8), (4, 16, 4), (0, 2, 2)])
def test_each_running_trial_gets_an_equal_share_of_the_cores(trials: int, cores: int, expected: int) -> None:
    assert threads_per_trial(trials, cores) == expected


@pytest.mark.parametrize("recipe_threads", [2, 8, None, -1, 0])
def test_thread_counts_above_the_share_or_meaning_all_cores_are_capped(recipe_threads: int | None) -> None:
    model = cap_threads(lightgbm.LGBMClassifier(n_jobs=recipe_threads), 1)
    assert model.get_params()["n_jobs"] == 1
    assert cap_threads(RandomForestClassifier(n_jobs=recipe_threads), 2).get_params()["n_jobs"] == 2


def test_smaller_thread_counts_and_models_without_threads_are_left_alone() -> None:
    assert cap_threads(lightgbm.LGBMClassifier(n_jobs=1), 4).get_params()["n_jobs"] == 1
    ridge = Ridge(alpha=0.5)
    assert cap_threads(ridge, 1).get_params() == Ridge(alpha=0.5).get_params()


def test_available_cores_is_this_process_affinity() -> None:
    assert available_cores() == len(os.sched_getaffinity(0))


def small_problem(rows: int = 200) -> Problem:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=rows), "b": rng.normal(size=rows)})
    y = pd.Series((X["a"] + rng.normal(scale=0.5, size=rows) > 0).astype(int))
    half = np.arange(rows // 2)
    folds = [(half, half + rows // 2), (half + rows // 2, half)]
    return Problem(X, y, "binary", folds, "roc_auc", True, 0.5)


def test_one_trial_at_a_time_keeps_the_recipe_threads_and_parallel_trials_share() -> None:
    objective = Objective(RECIPE, 0, small_problem())
    trial = optuna.trial.FixedTrial({"num_leaves": 6})
    assert objective.sharing(1).estimator(trial).get_params()["n_jobs"] == 2
    shared = objective.sharing(2).estimator(trial).get_params()["n_jobs"]
    assert shared == min(2, threads_per_trial(2, available_cores()))
    # A worker's own limit (`mmp tune-worker --threads 1`) is kept when its trials share more.
    assert objective.with_threads(1).sharing(2).estimator(trial).get_params()["n_jobs"] == 1


class Recording(Objective):
    """The real objective, noting the thread count of every estimator a trial fits."""

    seen: list[Any] = []

    def estimator(self, trial: Any) -> Any:
        model = super().estimator(trial)
        Recording.seen.append(model.get_params()["n_jobs"])
        return model


def test_a_study_with_two_parallel_trials_fits_each_on_its_share() -> None:
    Recording.seen = []
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0))
    run_trials(study, Recording(RECIPE, 0, small_problem()), n_trials=4, n_jobs=2)
    assert len([t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]) == 4
    assert Recording.seen == [min(2, threads_per_trial(2, available_cores()))] * 4


@pytest.mark.parametrize(
    ("users", "load", "expected"),
    [
        ({}, 0.3, None),  # idle cores: libgomp's default (spin a while, then sleep)
        ({}, 1.5, None),  # a pipeline's own earlier stages
        ({}, 2.4, "PASSIVE"),  # more runnable work than 2 cores
        ({"OMP_WAIT_POLICY": "ACTIVE"}, 9.0, "ACTIVE"),
        ({"GOMP_SPINCOUNT": "1000"}, 9.0, None),  # a spin count the user chose is not overridden
    ],
)
def test_entry_points_choose_how_openmp_threads_wait_by_load_unless_the_user_chose(
    monkeypatch: pytest.MonkeyPatch, users: dict[str, str], load: float, expected: str | None
) -> None:
    for name in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in users.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    seen = []
    monkeypatch.setattr(sys, "argv", ["stage"])
    with pytest.raises(SystemExit) as stop:
        run_stage(lambda argv: seen.append(os.environ.get("OMP_WAIT_POLICY")))
    assert stop.value.code == 0 and seen == [expected]
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    for name, value in users.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit):
        cli_main(["--version"])  # the mmp command chooses the same way
    assert os.environ.get("OMP_WAIT_POLICY") == expected


def test_cores_count_as_busy_from_as_much_runnable_work_as_cores() -> None:
    assert not cores_are_busy(1.9, 2) and cores_are_busy(2.0, 2) and not cores_are_busy(6.0, 8)


@pytest.mark.parametrize("stage", ["tune", "train"])
def test_no_openmp_library_is_loaded_before_a_stage_sets_the_wait_policy(stage: str) -> None:
    # libgomp reads OMP_WAIT_POLICY once, when it loads: it must not load with the stage module.
    code = f"import mmp.pipeline.stages.{stage}; print(any('gomp' in line for line in open('/proc/self/maps')))"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    assert out.strip() == "False"
