"""The metrics each task produces and which way each one is better: the one table that the
evaluator, the quality gate, tuning and the CI report read. No sklearn here, so the gate and the
report stay light (``mmp.modeling.metrics`` computes the values)."""

from __future__ import annotations

from mmp.core.config import TaskType, task_kind

CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc", "log_loss")
# Multiclass: precision/recall/f1/roc_auc/pr_auc above are macro averages; these add the
# support-weighted averages.
WEIGHTED_METRICS = ("precision_weighted", "recall_weighted", "f1_weighted")
REGRESSION_METRICS = ("rmse", "mae", "r2")
HIGHER_IS_BETTER: dict[str, bool] = {
    **{m: True for m in CLASSIFICATION_METRICS + WEIGHTED_METRICS},
    "log_loss": False,
    "rmse": False,
    "mae": False,
    "r2": True,
}


def metric_names(task: TaskType) -> tuple[str, ...]:
    """What the evaluator computes for ``task``."""
    if task_kind(task) == "regression":
        return REGRESSION_METRICS
    return CLASSIFICATION_METRICS + WEIGHTED_METRICS if task == "multiclass" else CLASSIFICATION_METRICS


def higher_is_better(metric: str) -> bool:
    """Which way ``metric`` improves (a loss or an error is better lower). A metric the table
    does not know, which no task produces, counts as higher-is-better."""
    return HIGHER_IS_BETTER.get(metric, True)
