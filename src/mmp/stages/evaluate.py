"""evaluate: score the test split, write metrics/evaluate.json, and log ROC, precision-recall,
confusion-matrix (classification), predicted-vs-actual (regression) and feature-importance
plots through dvclive."""

from __future__ import annotations

from pathlib import Path

import joblib
import numpy as np
import pandas as pd

from mmp.config import load_params
from mmp.errors import run_cli
from mmp.io import write_json
from mmp.metrics import classification_metrics, feature_importance, predict_labels, regression_metrics
from mmp.stages import live, parser
from mmp.training import target


def main(argv: list[str]) -> None:
    args = parser(__doc__, features="feature matrices directory", model="fitted model file", metrics="metrics JSON", live="dvclive directory for plots").parse_args(argv)
    params = load_params(args.params)
    targets, task = params.data.targets, params.data.task_type
    test = pd.read_parquet(Path(args.features) / "test.parquet")
    X, y = test.drop(columns=targets), target(test, targets)
    model = joblib.load(args.model)
    with live(args.live) as logger:
        if task == "regression":
            pred = np.asarray(model.predict(X))
            scores = regression_metrics(y, pred)
            first = pred if pred.ndim == 1 else pred[:, 0]
            actual = np.asarray(y if y.ndim == 1 else y.iloc[:, 0])
            points = pd.DataFrame({"actual": actual, "predicted": first}).round(6)
            logger.log_plot("predicted_vs_actual", points, x="actual", y="predicted", template="scatter", title="Predicted vs actual")
        else:
            # float64: float32 probabilities (models fitted on float32 features) break JSON plots
            proba, classes = np.asarray(model.predict_proba(X), dtype="float64"), np.asarray(model.classes_)
            scores = classification_metrics(np.asarray(y), proba, classes, params.evaluate.threshold)
            pred = predict_labels(proba, classes, params.evaluate.threshold)
            logger.log_sklearn_plot("confusion_matrix", np.asarray(y).astype(str).tolist(), pred.astype(str).tolist(), name="confusion_matrix")
            if len(classes) == 2:
                is_pos = (np.asarray(y) == classes[1]).astype(int)
                logger.log_sklearn_plot("roc", is_pos, proba[:, 1], name="roc", drop_intermediate=True)
                logger.log_sklearn_plot("precision_recall", is_pos, proba[:, 1], name="precision_recall", drop_intermediate=True)
        importance = feature_importance(model, X, y, params.seed, params.evaluate.importance_top_k)
        logger.log_plot("importance", importance, x="importance", y="feature", template="bar_horizontal_sorted", title="Feature importance")
    write_json(args.metrics, scores)


if __name__ == "__main__":
    run_cli(main)
