"""The tune stage in the real pipeline (``dvc exp run -S tune.enabled=true``), small data."""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import pytest

from tests.conftest import run

pytestmark = pytest.mark.slow
SMALL = ["-S", "data.rows=2000", "-S", "tune.n_trials=4", "-S", "tune.cv.folds=2", "-S", "model.hyperparameters.n_estimators=30"]


def read(repo: Path, rel: str) -> dict:
    return json.loads((repo / rel).read_text())


def test_tuning_feeds_the_final_fit_and_shows_in_dvc(repo_copy: Path) -> None:
    run(["dvc", "exp", "run", *SMALL, "-S", "tune.enabled=true"], repo_copy)
    result = read(repo_copy, "metrics/tune.json")
    assert result["n_trials"] == 4 and result["metric"] == "roc_auc"
    best = read(repo_copy, "models/best_params.json")
    assert best == result["best_params"] and set(best) == {"learning_rate", "num_leaves", "min_child_samples", "colsample_bytree"}
    model = joblib.load(repo_copy / "models/model.joblib")
    assert {k: model.get_params()[k] for k in best} == best, "the final fit uses the best trial's values"
    assert (repo_copy / "optuna.db").exists(), "the default study store is the SQLite file at the repo root"
    assert (repo_copy / "metrics/tune/trials.csv").read_text().count("\n") == 5
    plots = run(["dvc", "plots", "show", "--json"], repo_copy).stdout
    assert "Optimization history" in plots and "Parameter importance" in plots
    assert "best_score" in run(["dvc", "metrics", "show"], repo_copy).stdout

    # A model-only change re-runs tune and what follows, never prepare or featurize.
    out = run(["dvc", "exp", "run", *SMALL, "-S", "tune.enabled=true", "-S", "model.hyperparameters.num_leaves.high=64"], repo_copy).stdout
    assert "Running stage 'tune'" in out and "Running stage 'train'" in out
    assert "Running stage 'prepare'" not in out and "Running stage 'featurize'" not in out


def test_a_wrong_metric_fails_the_stage_with_the_valid_names(repo_copy: Path) -> None:
    proc = run(["dvc", "exp", "run", *SMALL, "-S", "tune.enabled=true", "-S", "tune.metric=rmse"], repo_copy, check=False)
    assert proc.returncode != 0
    assert "tune.metric: 'rmse' is not a metric the evaluator produces for a binary task" in proc.stdout + proc.stderr
    assert not (repo_copy / "optuna.db").exists(), "no study was created"
