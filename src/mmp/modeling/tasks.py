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
# Uplift: the Qini coefficient and the area under the uplift curve (both on normalised curves,
# as causalml computes them), and PEHE, the error against the known effect (only when the data
# declares one: data.effect_col).
UPLIFT_METRICS = ("qini", "auuc")
KNOWN_EFFECT_METRICS = ("pehe",)
# Generation (LLM graphs, mmp.modeling.llm.metrics): answers against expected answers;
# json_valid_rate too when the recipe asks for JSON answers.
GENERATION_METRICS = ("exact_match", "token_f1", "rouge_l")
HIGHER_IS_BETTER: dict[str, bool] = {
    **{m: True for m in CLASSIFICATION_METRICS + WEIGHTED_METRICS},
    "log_loss": False,
    "rmse": False,
    "mae": False,
    "r2": True,
    "qini": True,
    "auuc": True,
    "pehe": False,
    **{m: True for m in (*GENERATION_METRICS, "json_valid_rate")},
}


def metric_names(task: TaskType) -> tuple[str, ...]:
    """What the evaluator computes for ``task``."""
    if task_kind(task) == "regression":
        return REGRESSION_METRICS
    if task_kind(task) == "uplift":
        return UPLIFT_METRICS
    if task_kind(task) == "generation":
        return GENERATION_METRICS
    return CLASSIFICATION_METRICS + WEIGHTED_METRICS if task == "multiclass" else CLASSIFICATION_METRICS


def higher_is_better(metric: str) -> bool:
    """Which way ``metric`` improves (a loss or an error is better lower). A metric the table
    does not know, which no task produces, counts as higher-is-better."""
    return HIGHER_IS_BETTER.get(metric, True)
