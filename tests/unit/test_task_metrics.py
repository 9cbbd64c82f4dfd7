"""Metrics follow the task: multiclass averages and per-class report, multi-output regression."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from mmp.core.config import task_kind
from mmp.modeling.metrics import classification_metrics, per_class_report, per_target_report, regression_metrics
from mmp.modeling.tasks import HIGHER_IS_BETTER, higher_is_better, metric_names


def test_multiclass_has_macro_and_weighted_averages() -> None:
    y = np.array(["a"] * 6 + ["b"] * 3 + ["c"] * 1)
    proba = np.tile([0.6, 0.3, 0.1], (10, 1))
    proba[6:9] = [0.2, 0.7, 0.1]
    classes = np.array(["a", "b", "c"])
    scores = classification_metrics(y, proba, classes, 0.5)
    pred = classes[proba.argmax(axis=1)]
    assert scores["f1"] == round(skm.f1_score(y, pred, average="macro", zero_division=0), 6)
    assert scores["f1_weighted"] == round(skm.f1_score(y, pred, average="weighted", zero_division=0), 6)
    assert scores["f1_weighted"] > scores["f1"], "the never-predicted rare class weighs less in the weighted average"
    assert set(metric_names("multiclass")) == set(scores)
    assert all(name in HIGHER_IS_BETTER for name in metric_names("multiclass"))


def test_per_class_report_has_every_class() -> None:
    y = np.array([0, 0, 1, 1, 2, 2])
    pred = np.array([0, 1, 1, 1, 2, 0])
    report = per_class_report(y, pred, np.array([0, 1, 2]))
    assert report["1"] == {"precision": round(2 / 3, 6), "recall": 1.0, "f1": 0.8, "support": 2}
    assert report["2"]["recall"] == 0.5


def test_multi_output_regression_metrics_average_the_targets() -> None:
    y = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [10.0, 20.0, 30.0, 40.0]})
    pred = np.column_stack([[1.0, 2.0, 3.0, 5.0], [12.0, 18.0, 30.0, 40.0]])
    per_target = per_target_report(y, pred)
    assert per_target["a"]["rmse"] == 0.5
    overall = regression_metrics(y, pred)
    assert overall["rmse"] == round((per_target["a"]["rmse"] + per_target["b"]["rmse"]) / 2, 6)
    assert overall["r2"] == round((per_target["a"]["r2"] + per_target["b"]["r2"]) / 2, 6)


def test_every_metric_of_every_task_has_one_direction_that_the_gate_and_tuning_share() -> None:
    from mmp.core.config import TuneConfig
    from mmp.modeling.gate import _champion_check
    from mmp.tuning.search import resolve_objective

    for task in ("binary", "multiclass", "regression"):
        for name in metric_names(task):
            assert name in HIGHER_IS_BETTER
            tuned = resolve_objective(TuneConfig(metric=name), task)[1]
            assert tuned == ("maximize" if higher_is_better(name) else "minimize")
            lower = _champion_check(name, 0.0, {name: 1.0}, {name: 2.0})  # candidate below champion
            assert lower.passed is not higher_is_better(name)
    for name in (*metric_names("uplift"), "pehe"):  # the gate reads them; tuning refuses uplift
        assert _champion_check(name, 0.0, {name: 1.0}, {name: 2.0}).passed is not higher_is_better(name)
    assert [m for m in HIGHER_IS_BETTER if not higher_is_better(m)] == ["log_loss", "rmse", "mae", "pehe"]


def test_binary_and_multiclass_are_classification() -> None:
    assert [task_kind(t) for t in ("binary", "multiclass", "regression")] == ["classification", "classification", "regression"]


def test_binary_f1_is_the_f1_that_classification_metrics_reports() -> None:
    from mmp.modeling.metrics import binary_f1, classification_metrics

    rng = np.random.default_rng(3)
    classes = np.array(["no", "yes"])
    y = classes[rng.integers(0, 2, 500)]
    proba = rng.random((500, 2))
    for threshold in (0.5, 0.35):
        assert binary_f1(y, proba, classes, threshold) == classification_metrics(y, proba, classes, threshold)["f1"]
