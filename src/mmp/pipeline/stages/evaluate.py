"""evaluate: score the test split, write metrics/evaluate.json, and log the plots of the task
through dvclive: confusion matrix (classification), ROC and precision-recall (binary),
one-vs-rest ROC per class (multiclass), predicted-vs-actual and residuals (regression), and
feature importance."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd

from mmp.core.config import load_params
from mmp.core.errors import run_cli
from mmp.core.io import write_json
from mmp.modeling.metrics import (
    classification_metrics,
    feature_importance,
    per_class_report,
    per_target_report,
    predict_labels,
    regression_metrics,
)
from mmp.modeling.training import target
from mmp.pipeline.stages import live, parser


def main(argv: list[str]) -> None:
    args = parser(__doc__, features="feature matrices directory", model="fitted model file", metrics="metrics JSON", live="dvclive directory for plots").parse_args(argv)
    params = load_params(args.params)
    targets = params.data.targets
    test = pd.read_parquet(Path(args.features) / "test.parquet")
    X, y = test.drop(columns=targets), target(test, targets)
    model = joblib.load(args.model)
    with live(args.live) as logger:
        if params.data.task_type == "regression":
            scores = evaluate_regression(logger, model, X, y)
        else:
            scores = evaluate_classification(logger, model, X, y, params.evaluate.threshold)
        importance = feature_importance(model, X, y, params.seed, params.evaluate.importance_top_k)
        logger.log_plot("importance", importance, x="importance", y="feature", template="bar_horizontal_sorted", title="Feature importance")
    write_json(args.metrics, scores)


def evaluate_regression(logger: Any, model: Any, X: pd.DataFrame, y: pd.Series | pd.DataFrame) -> dict[str, Any]:
    pred = np.asarray(model.predict(X), dtype="float64")
    scores: dict[str, Any] = regression_metrics(y, pred)
    frame = y.to_frame() if isinstance(y, pd.Series) else y
    pred2d = pred.reshape(len(frame), -1)
    if pred2d.shape[1] > 1:
        scores["per_target"] = per_target_report(frame, pred2d)
    # One point per row and target; the `target` field tells multi-output targets apart.
    points = pd.concat(
        [pd.DataFrame({"target": str(t), "actual": frame[t].to_numpy(), "predicted": pred2d[:, i]}) for i, t in enumerate(frame.columns)], ignore_index=True
    ).assign(residual=lambda d: d.actual - d.predicted)
    points = points.round(6)
    logger.log_plot("predicted_vs_actual", points[["target", "actual", "predicted"]], x="actual", y="predicted", template="scatter", title="Predicted vs actual")
    logger.log_plot("residuals", points[["target", "predicted", "residual"]], x="predicted", y="residual", template="scatter", title="Residuals")
    return scores


def evaluate_classification(logger: Any, model: Any, X: pd.DataFrame, y: pd.Series, threshold: float) -> dict[str, Any]:
    # float64: a float32 matrix makes some models return float32, which JSON cannot write.
    proba, classes, truth = np.asarray(model.predict_proba(X), dtype="float64"), np.asarray(model.classes_), np.asarray(y)
    scores: dict[str, Any] = classification_metrics(truth, proba, classes, threshold)
    pred = predict_labels(proba, classes, threshold)
    logger.log_sklearn_plot("confusion_matrix", truth.astype(str).tolist(), pred.astype(str).tolist(), name="confusion_matrix")
    if len(classes) == 2:
        is_pos = (truth == classes[1]).astype(int)
        logger.log_sklearn_plot("roc", is_pos, proba[:, 1], name="roc", drop_intermediate=True)
        logger.log_sklearn_plot("precision_recall", is_pos, proba[:, 1], name="precision_recall", drop_intermediate=True)
        return scores
    scores["per_class"] = per_class_report(truth, pred, classes)
    for i, c in enumerate(classes):  # one-vs-rest ROC: one file (one line in `dvc plots`) per class
        logger.log_sklearn_plot("roc", (truth == c).astype(int), proba[:, i], name=f"roc_ovr/{_file_name(c)}", drop_intermediate=True)
    return scores


def _file_name(value: Any) -> str:
    return re.sub(r"[^\w.-]+", "_", str(value)) or "_"


if __name__ == "__main__":
    run_cli(main)
