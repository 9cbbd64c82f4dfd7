"""The score of one trial: the recipe built with the trial's choices, cross-validated on the train
split. Models that iterate report intermediate scores so a pruner can stop a bad trial early:
LightGBM per boosting round, estimators whose ``fit`` takes ``epoch_callback`` (mmp's torch
models) per epoch, anything else per fold."""

from __future__ import annotations

import inspect
import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mmp.core.config import ModelConfig, TaskType, task_kind
from mmp.core.threads import available_cores
from mmp.modeling.metrics import ExtraMetric, classification_metrics, extra_metric_values, regression_metrics
from mmp.modeling.recipe import build_estimator
from mmp.modeling.training import category_kwargs, is_lightgbm
from mmp.tuning.families import FAMILY, family_site
from mmp.tuning.space import trial_chooser
from mmp.tuning.threads import cap_threads, threads_per_trial

# LightGBM's built-in metric equal to the tuned one: evaluated in C every round, for free.
LGBM_METRICS = {
    ("binary", "roc_auc"): "auc",
    ("binary", "pr_auc"): "average_precision",
    ("binary", "log_loss"): "binary_logloss",
    ("multiclass", "log_loss"): "multi_logloss",
    ("regression", "rmse"): "rmse",
    ("regression", "mae"): "l1",
}
# Otherwise the objective's own loss stands in for the tuned metric while a fold trains.
LGBM_LOSS = {"binary": "binary_logloss", "multiclass": "multi_logloss", "regression": "l2"}
REPORTS_PER_FOLD = 10
ROUND_PARAMS = ("n_estimators", "num_iterations", "max_epochs", "epochs", "max_iter")

Report = Callable[[int, float, bool], None]


@dataclass(frozen=True)
class Problem:
    """What every trial is scored on: the train split only, already cut into folds."""

    X: pd.DataFrame
    y: pd.Series | pd.DataFrame
    task: TaskType
    folds: list[tuple[np.ndarray, np.ndarray]]
    metric: str
    maximize: bool
    threshold: float
    extra: ExtraMetric | None = None  # the tuned metric when it is one of evaluate.extra_metrics


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Objective:
    """``objective(trial) -> mean CV score``; raises ``optuna.TrialPruned`` when pruned. With
    ``families`` (AutoML), each trial first picks a family, then only that family's ranges."""

    def __init__(
        self,
        spec: ModelConfig,
        seed: int,
        problem: Problem,
        families: Mapping[str, ModelConfig] | None = None,
        threads: int | None = None,
    ):
        self.spec, self.seed, self.problem, self.families = spec, seed, problem, dict(families or {})
        self.threads = threads  # None: the recipe's own thread count

    def sharing(self, concurrent_trials: int) -> Objective:
        """This objective for ``concurrent_trials`` trials running at once in this process: each
        estimator gets an equal share of the cores (``mmp.tuning.threads``). One trial at a
        time keeps the recipe's thread count, so a single-process study is unchanged."""
        if concurrent_trials <= 1:
            return self
        return self.with_threads(threads_per_trial(concurrent_trials, available_cores()))

    def with_threads(self, threads: int) -> Objective:
        """This objective with at most ``threads`` threads per estimator (a smaller limit
        already set is kept): ``mmp tune-worker --threads`` when workers share a machine."""
        limit = threads if self.threads is None else min(threads, self.threads)
        return type(self)(self.spec, self.seed, self.problem, self.families, limit)

    def estimator(self, trial: Any) -> Any:
        if not self.families:
            model = build_estimator(self.spec, self.seed, trial_chooser(trial))
        else:
            name = trial.suggest_categorical(FAMILY, list(self.families))
            model = build_estimator(self.families[name], self.seed, trial_chooser(trial), family_site(name))
        return model if self.threads is None else cap_threads(model, self.threads)

    def __call__(self, trial: Any) -> float:
        from sklearn.base import clone

        p = self.problem
        trial.set_user_attr("worker", worker_id())
        estimator = self.estimator(trial)
        scores: list[float] = []
        for k, (tr, va) in enumerate(p.folds):
            model = clone(estimator)
            report = reporter(trial, k, rounds(model), p.maximize)
            iterated = fit_fold(model, p.X.iloc[tr], p.y.iloc[tr], p.X.iloc[va], p.y.iloc[va], p.task, p.metric, report)
            scores.append(fold_score(model, p.X.iloc[va], p.y.iloc[va], p))
            if not iterated:
                report(0, float(np.mean(scores)), p.maximize)
        trial.set_user_attr("fold_scores", scores)
        return float(np.mean(scores))  # Optuna marks a NaN score as a failed trial


def reporter(trial: Any, fold: int, stride: int, maximize: bool) -> Report:
    """``report(i, value, higher_is_better)`` at step ``fold * stride + i``, oriented so that a
    better value is better in the study's direction (a loss is negated when maximizing), then
    prune if the pruner says so. Per-fold reports (``stride`` 1) carry the running CV mean.

    Only every ``stride // REPORTS_PER_FOLD``-th step is reported: each report and pruning
    check is a storage round trip (about 30 ms on SQLite), which per boosting round would cost
    more than the fit itself."""
    every = max(1, stride // REPORTS_PER_FOLD)

    def report(i: int, value: float, higher_is_better: bool) -> None:
        import optuna

        if (i + 1) % every:
            return
        oriented = value if higher_is_better == maximize else -value
        trial.report(float(oriented), fold * stride + i)
        if trial.should_prune():
            raise optuna.TrialPruned(f"pruned in fold {fold} at step {i}")

    return report


def rounds(model: Any) -> int:
    """Steps one fold can report (boosting rounds, epochs); 1 for models that do not iterate."""
    if not iterates(model):
        return 1
    params = model.get_params(deep=False)
    for key in ROUND_PARAMS:
        if isinstance(params.get(key), int):
            return params[key] + 1  # epochs may count from 0 or from 1
    return 10_000


def takes_epoch_callback(model: Any) -> bool:
    return "epoch_callback" in inspect.signature(model.fit).parameters


def iterates(model: Any) -> bool:
    return is_lightgbm(model) or takes_epoch_callback(model)


def fit_fold(model: Any, X: pd.DataFrame, y: Any, X_val: pd.DataFrame, y_val: Any, task: TaskType, metric: str, report: Report) -> bool:
    """Fit one fold, reporting as the model iterates; False when it cannot report per step."""
    if is_lightgbm(model):
        name = LGBM_METRICS.get((task, metric), LGBM_LOSS[task])
        fit = {"eval_X": (X_val,), "eval_y": (y_val,), "eval_metric": name, **category_kwargs(model, X)}
        model.fit(X, y, callbacks=[lightgbm_callback(name, report)], **fit)
        return True
    if takes_epoch_callback(model):
        model.fit(X, y, epoch_callback=lambda epoch, loss: report(int(epoch), float(loss), False))
        return True
    model.fit(X, y)
    return False


class LightGBMReport:
    """A LightGBM callback reporting the metric ``name`` after every boosting round."""

    def __init__(self, name: str, report: Report):
        self.name, self.report = name, report
        # After LightGBM's own logging callbacks. An instance attribute: LightGBM gives a
        # callback without ``order`` in its ``__dict__`` a default one.
        self.order = 30

    def __call__(self, env: Any) -> None:
        for entry in env.evaluation_result_list:
            if entry[1] == self.name:
                self.report(env.iteration - env.begin_iteration, float(entry[2]), bool(entry[3]))


def lightgbm_callback(name: str, report: Report) -> Callable[[Any], None]:
    return LightGBMReport(name, report)


def fold_score(model: Any, X: pd.DataFrame, y: Any, p: Problem) -> float:
    """The tuned metric on one validation fold, computed exactly as the evaluator computes it."""
    regression = task_kind(p.task) == "regression"
    prediction = np.asarray(model.predict(X) if regression else model.predict_proba(X), dtype="float64")
    if p.extra is not None:
        classes = None if regression else np.asarray(model.classes_)
        return extra_metric_values([p.extra], y, prediction, classes, p.threshold)[p.extra.name]
    if regression:
        return regression_metrics(np.asarray(y), prediction)[p.metric]
    return classification_metrics(np.asarray(y), prediction, np.asarray(model.classes_), p.threshold)[p.metric]
