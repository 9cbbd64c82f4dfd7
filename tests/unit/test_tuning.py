"""Tuning: errors before any trial, CV on the train split, pruning, reproducibility, the stage."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import log_loss

from mmp.core.config import ModelConfig, Params, TuneConfig, parse
from mmp.core.errors import MMPError
from mmp.modeling.recipe import find_ranges
from mmp.pipeline.stages import tune as tune_stage
from mmp.tuning.cv import make_folds, resolve_strategy
from mmp.tuning.objective import Objective
from mmp.tuning.search import open_study, resolve_objective, run_trials, study_name, summary
from mmp.tuning.session import prepare_problem, study_recipe
from mmp.tuning.space import search_space, tuned_chooser
from tests.conftest import ROOT
from tests.tuning_helpers import LGBM, make_workspace, params_dict, seeded_times, stage_args, trial_fingerprint

optuna.logging.set_verbosity(optuna.logging.WARNING)


def model_with(**ranges: object) -> ModelConfig:
    return ModelConfig(class_path="lightgbm.LGBMClassifier", hyperparameters={"n_estimators": 10, **ranges})


@pytest.mark.parametrize(
    ("ranges", "where", "rule"),
    [
        ({"num_leaves": {"type": "int", "low": 64, "high": 8}}, "model.hyperparameters.num_leaves", "low (64.0) > high (8.0)"),
        (
            {"learning_rate": {"type": "float", "low": 0, "high": 0.3, "log": True}},
            "model.hyperparameters.learning_rate",
            "a log range must be > 0",
        ),
        (
            {"boosting_type": {"type": "categorical", "choices": []}},
            "model.hyperparameters.boosting_type",
            "needs a non-empty `choices` list",
        ),
        ({}, "model.hyperparameters", "no search range to tune"),
    ],
    ids=["inverted", "log-zero", "no-choices", "no-ranges"],
)
def test_bad_search_spaces_fail_before_any_trial(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ranges: dict, where: str, rule: str
) -> None:
    model = {"class_path": "lightgbm.LGBMClassifier", "hyperparameters": {"n_estimators": 10, **ranges}}
    root = make_workspace(tmp_path, params_dict(model))
    db = tmp_path / "optuna.db"
    monkeypatch.setenv("MMP_TUNE_STORAGE", f"sqlite:///{db}")
    monkeypatch.chdir(root)
    with pytest.raises(MMPError) as err:
        search_space(model_with(**ranges))
    assert where in str(err.value) and rule in str(err.value)
    with pytest.raises(MMPError, match=rule.replace("(", r"\(").replace(")", r"\)").replace("`", ".")):
        tune_stage.main(stage_args(root))
    assert not db.exists(), "the storage is not touched: no study, no trial"
    assert not (root / "models").exists() and not (root / "metrics").exists(), "no half-written outputs"


def test_unstorable_choices_and_log_with_step_are_errors() -> None:
    with pytest.raises(MMPError, match="cannot be stored by Optuna"):
        search_space(model_with(boosting_type={"type": "categorical", "choices": [["gbdt"], "dart"]}))
    with pytest.raises(MMPError, match="cannot combine `log: true` with a `step`"):
        search_space(model_with(learning_rate={"type": "float", "low": 0.01, "high": 0.3, "log": True, "step": 0.01}))


@pytest.mark.parametrize(
    ("task", "metric", "direction", "expected"),
    [("binary", None, None, ("roc_auc", "maximize")), ("binary", "log_loss", None, ("log_loss", "minimize")),
     ("regression", None, None, ("rmse", "minimize")), ("regression", "r2", None, ("r2", "maximize")),
     ("binary", "f1", "minimize", ("f1", "minimize"))],
)  # fmt: skip
def test_metric_and_direction(task: str, metric: str | None, direction: str | None, expected: tuple[str, str]) -> None:
    assert resolve_objective(TuneConfig(metric=metric, direction=direction), task) == expected


def test_a_wrong_metric_lists_the_valid_ones() -> None:
    with pytest.raises(MMPError) as err:
        resolve_objective(TuneConfig(metric="rmse"), "binary")
    assert str(err.value).startswith("tune.metric: 'rmse' is not a metric the evaluator produces for a binary task")
    assert "accuracy, precision, recall, f1, roc_auc, pr_auc, log_loss" in str(err.value)


def test_unknown_tune_keys_and_values_are_rejected() -> None:
    with pytest.raises(MMPError, match="tune.pruner"):
        parse(TuneConfig, {"pruner": "sometimes"}, "tune")
    with pytest.raises(MMPError, match="tune.cv.folds"):
        parse(TuneConfig, {"cv": {"folds": 1}}, "tune")


def test_cv_strategy() -> None:
    assert resolve_strategy("auto", "binary", "when", 1) == "timeseries"
    assert resolve_strategy("auto", "binary", None, 1) == "stratified"
    assert resolve_strategy("auto", "regression", None, 1) == "kfold"
    with pytest.raises(MMPError, match="tune.cv.strategy: stratified needs a single classification target"):
        resolve_strategy("stratified", "regression", None, 1)
    with pytest.raises(MMPError, match="tune.cv.strategy: timeseries needs data.time_col"):
        resolve_strategy("timeseries", "binary", None, 1)


def test_time_series_folds_validate_on_later_rows_and_stratified_folds_keep_balance() -> None:
    times = seeded_times(300)
    y = pd.Series(np.arange(300) % 4 == 0).astype(int)
    for train, valid in make_folds(y, "timeseries", 4, 0, times):
        assert times.iloc[train].max() < times.iloc[valid].min()
    for _, valid in make_folds(y, "stratified", 3, 0):
        assert y.iloc[valid].mean() == pytest.approx(0.25, abs=0.01)


def problem_for(tmp_path: Path, model: dict | None = None, **tune: object):
    root = make_workspace(tmp_path, params_dict(model, **tune))
    params = parse(Params, params_dict(model, **tune))
    return params, *prepare_problem(params, root / "data/features", root / "data/prepared")


def run_in_memory(params: Params, problem, seed: int | None = None) -> optuna.Study:
    from mmp.tuning.search import make_pruner, make_sampler

    study = open_study(
        None,
        None,
        "maximize" if problem.maximize else "minimize",
        make_sampler("tpe", seed or params.seed),
        make_pruner(params.tune.pruner),
    )
    run_trials(study, Objective(params.model, params.seed, problem), params.tune.n_trials)
    return study


def test_same_seed_gives_the_same_trials_and_best_params(tmp_path: Path) -> None:
    params, problem, _ = problem_for(tmp_path, n_trials=8)
    first, second = run_in_memory(params, problem), run_in_memory(params, problem)
    assert trial_fingerprint(first) == trial_fingerprint(second)
    assert first.best_params == second.best_params
    assert trial_fingerprint(run_in_memory(params, problem, seed=8)) != trial_fingerprint(first), "the seed matters"


def test_lightgbm_rounds_are_reported_and_bad_trials_pruned(tmp_path: Path) -> None:
    params, problem, _ = problem_for(tmp_path, n_trials=16, pruner="median")
    study = run_in_memory(params, problem)
    states = [t.state for t in study.trials]
    assert states.count(optuna.trial.TrialState.PRUNED) >= 2, states
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    steps = sorted(complete[0].intermediate_values)
    assert len(steps) == 3 * 10, "ten reports per fold over 60 boosting rounds"
    assert steps[-1] > 2 * 61, "steps run through the rounds of every fold"
    pruned = [t for t in study.trials if t.state == optuna.trial.TrialState.PRUNED]
    assert all(len(t.intermediate_values) < len(steps) for t in pruned), "a pruned trial stopped early"
    assert summary(study, "roc_auc", 1.0)["n_pruned"] == len(pruned)


class EpochSGD(ClassifierMixin, BaseEstimator):
    """A real iterative model with the torch models' protocol: ``fit(..., epoch_callback)``
    calls ``epoch_callback(epoch, validation_loss)`` after each epoch."""

    def __init__(self, alpha: float = 1e-4, epochs: int = 10, random_state: int = 0):
        self.alpha, self.epochs, self.random_state = alpha, epochs, random_state

    def fit(self, X, y, epoch_callback=None):
        X, y = np.asarray(X), np.asarray(y)
        cut = int(len(X) * 0.8)
        self.model_ = SGDClassifier(loss="log_loss", alpha=self.alpha, random_state=self.random_state)
        self.classes_ = np.unique(y)
        for epoch in range(self.epochs):
            self.model_.partial_fit(X[:cut], y[:cut], classes=self.classes_)
            if epoch_callback is not None:
                epoch_callback(epoch, log_loss(y[cut:], self.model_.predict_proba(X[cut:]), labels=self.classes_))
        return self

    def predict_proba(self, X):
        return self.model_.predict_proba(np.asarray(X))


def test_epoch_callback_models_report_every_epoch_and_get_pruned(tmp_path: Path) -> None:
    model = {
        "class_path": f"{__name__}.EpochSGD",
        "hyperparameters": {"epochs": 10, "alpha": {"type": "float", "low": 1e-5, "high": 10.0, "log": True}},
    }
    params, problem, _ = problem_for(tmp_path, model, n_trials=14, pruner="median")
    study = run_in_memory(params, problem)
    complete = next(t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE)
    assert sorted(complete.intermediate_values) == [k * 11 + e for k in range(3) for e in range(10)]
    assert all(v <= 0 for v in complete.intermediate_values.values()), "a loss is negated when the study maximizes"
    assert any(t.state == optuna.trial.TrialState.PRUNED for t in study.trials)


def test_study_name_is_deterministic_per_recipe_and_data(tmp_path: Path) -> None:
    params, _, digest = problem_for(tmp_path)
    name = study_name(params.model.class_path, study_recipe(params), digest)
    assert name == study_name(params.model.class_path, study_recipe(params), digest)
    assert name.startswith("mmp-LGBMClassifier-")
    more_jobs = params.model_copy(update={"tune": params.tune.model_copy(update={"n_jobs": 4})})
    assert study_name(params.model.class_path, study_recipe(more_jobs), digest) == name, "n_jobs does not change the search"
    other_seed = params.model_copy(update={"seed": 8})
    assert study_name(params.model.class_path, study_recipe(other_seed), digest) != name
    assert study_name(params.model.class_path, study_recipe(params), "other data") != name


def test_tuned_chooser_uses_best_values_and_rejects_stale_ones() -> None:
    ranges = find_ranges(LGBM["hyperparameters"])
    choose = tuned_chooser({"num_leaves": 9}, ranges)
    assert choose("num_leaves", ranges["num_leaves"]) == 9
    assert choose("min_child_samples", ranges["min_child_samples"]) == ranges["min_child_samples"].midpoint()
    with pytest.raises(MMPError, match="max_depth"):
        tuned_chooser({"max_depth": 3}, ranges)


def test_stage_writes_results_and_a_rerun_reads_the_same_study(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    root = make_workspace(
        tmp_path, params_dict(n_trials=5, cv={"folds": 3, "strategy": "timeseries"}, pruner="none"), times=seeded_times(600)
    )
    params = yaml_load(root / "params.yaml")
    params["data"]["time_col"] = "when"
    (root / "params.yaml").write_text(json.dumps(params))
    monkeypatch.setenv("MMP_TUNE_STORAGE", f"sqlite:///{tmp_path / 'optuna.db'}")
    monkeypatch.chdir(root)
    tune_stage.main(stage_args(root))
    result = json.loads((root / "metrics/tune.json").read_text())
    assert {"best_score", "best_params", "n_trials", "n_pruned", "duration"} <= set(result)
    assert result["n_trials"] == 5 and result["metric"] == "roc_auc" and result["direction"] == "maximize"
    best = json.loads((root / "models/best_params.json").read_text())
    assert best == result["best_params"] and set(best) == {"learning_rate", "num_leaves", "min_child_samples"}
    trials = pd.read_csv(root / "metrics/tune/trials.csv")
    assert list(trials["number"]) == [0, 1, 2, 3, 4] and "params_num_leaves" in trials
    history = json.loads((root / "metrics/tune/plots/custom/history.json").read_text())
    assert [p["trial"] for p in history] == [0, 1, 2, 3, 4]
    assert json.loads((root / "metrics/tune/plots/custom/importance.json").read_text())
    assert "tune:" in capsys.readouterr().err, "the progress bar is shown"
    tune_stage.main(stage_args(root))  # same recipe, same data: the finished study is read back
    again = json.loads((root / "metrics/tune.json").read_text())
    assert again["n_trials"] == 5 and again["best_params"] == best and again["study"] == result["study"]


def test_disabled_stage_writes_empty_results(tmp_path: Path) -> None:
    root = make_workspace(tmp_path, params_dict(enabled=False))
    tune_stage.main(stage_args(root))
    assert json.loads((root / "models/best_params.json").read_text()) == {}
    assert json.loads((root / "metrics/tune.json").read_text()) == {"enabled": False}
    assert (root / "metrics/tune/trials.csv").read_text() == tune_stage.EMPTY_TRIALS


def test_disabled_stage_imports_no_model_library(tmp_path: Path) -> None:
    """With tuning off the stage fits nothing: importing LightGBM (and scikit-learn inside it)
    only to check model.class_path cost every run 1.4 s. The train stage checks the model."""
    import subprocess
    import sys

    from tests.conftest import pipeline_env

    root = make_workspace(tmp_path, params_dict(enabled=False))
    probe = f"import sys; from mmp.pipeline.stages import tune; tune.main({stage_args(root)!r}); print(sorted({{'lightgbm', 'sklearn'}} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], cwd=root, env=pipeline_env(ROOT), capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
    assert json.loads((root / "models/best_params.json").read_text()) == {}


def yaml_load(path: Path) -> dict:
    import yaml

    return yaml.safe_load(path.read_text())
