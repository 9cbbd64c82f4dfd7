"""The evaluate step's scores and plots: confusion matrix (classification), ROC and
precision-recall (binary), one-vs-rest ROC per class (multiclass), predicted-vs-actual and
residuals (regression), the Qini curve (also as a PNG) and the uplift by decile (uplift). Plots go to a logger with dvclive's ``log_plot``/``log_sklearn_plot``;
``NoPlots`` drops them for in-memory callers."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import pandas as pd

from mmp.core.config import DEFAULT_THRESHOLD
from mmp.modeling.metrics import (
    ExtraMetric,
    binary_f1,
    classification_metrics,
    extra_metric_values,
    per_class_report,
    per_target_report,
    predict_labels,
    qini_curve,
    regression_metrics,
    uplift_by_decile,
    uplift_metrics,
)

QINI_POINTS = 200  # the Qini curve's plotted points: its shape, not one point per test row
# The most cut-offs a ROC or precision-recall curve is drawn at. One per distinct score would be
# ~60k JSON records at 2M rows (seconds to write, megabytes for `dvc plots` to render); up to
# 5,000 distinct scores (the default recipe's 4,000 test rows) the curve keeps every one.
CURVE_POINTS = 5000


class PlotLogger(Protocol):
    def log_plot(self, name: str, datapoints: Any, **kwargs: Any) -> Any: ...
    def log_sklearn_plot(self, kind: str, labels: Any, predictions: Any, **kwargs: Any) -> Any: ...
    def log_image(self, name: str, val: Any) -> Any: ...


class NoPlots:
    """A :class:`PlotLogger` that keeps nothing."""

    def log_plot(self, name: str, datapoints: Any, **kwargs: Any) -> None:
        return None

    def log_sklearn_plot(self, kind: str, labels: Any, predictions: Any, **kwargs: Any) -> None:
        return None

    def log_image(self, name: str, val: Any) -> None:
        return None


def evaluate_regression(
    logger: PlotLogger, model: Any, X: pd.DataFrame, y: pd.Series | pd.DataFrame, extra: Sequence[ExtraMetric] = ()
) -> dict[str, Any]:
    pred = np.asarray(model.predict(X), dtype="float64")
    scores: dict[str, Any] = regression_metrics(y, pred) | extra_metric_values(extra, y, pred, None)
    frame = y.to_frame() if isinstance(y, pd.Series) else y
    pred2d = pred.reshape(len(frame), -1)
    if pred2d.shape[1] > 1:
        scores["per_target"] = per_target_report(frame, pred2d)
    # One point per row and target; the `target` field tells multi-output targets apart.
    points = pd.concat(
        [pd.DataFrame({"target": str(t), "actual": frame[t].to_numpy(), "predicted": pred2d[:, i]}) for i, t in enumerate(frame.columns)],
        ignore_index=True,
    ).assign(residual=lambda d: d.actual - d.predicted)
    points = points.round(6)
    logger.log_plot(
        "predicted_vs_actual",
        points[["target", "actual", "predicted"]],
        x="actual",
        y="predicted",
        template="scatter",
        title="Predicted vs actual",
    )
    logger.log_plot(
        "residuals", points[["target", "predicted", "residual"]], x="predicted", y="residual", template="scatter", title="Residuals"
    )
    return scores


def evaluate_classification(
    logger: PlotLogger, model: Any, X: pd.DataFrame, y: pd.Series, threshold: float, extra: Sequence[ExtraMetric] = ()
) -> dict[str, Any]:
    # float64: a float32 matrix makes some models return float32, which JSON cannot write.
    proba, classes, truth = np.asarray(model.predict_proba(X), dtype="float64"), np.asarray(model.classes_), np.asarray(y)
    scores: dict[str, Any] = classification_metrics(truth, proba, classes, threshold)
    scores |= extra_metric_values(extra, truth, proba, classes, threshold)
    pred = predict_labels(proba, classes, threshold)
    logger.log_sklearn_plot("confusion_matrix", truth.astype(str).tolist(), pred.astype(str).tolist(), name="confusion_matrix")
    if len(classes) == 2:
        # The decision threshold the labels above used, and F1 at the conventional 0.5 beside it.
        scores |= {"threshold": threshold, "f1_at_0.5": binary_f1(truth, proba, classes, DEFAULT_THRESHOLD)}
        is_pos, score, weight = curve_rows((truth == classes[1]).astype(int), proba[:, 1])
        logger.log_sklearn_plot("roc", is_pos, score, name="roc", drop_intermediate=True, sample_weight=weight)
        logger.log_sklearn_plot("precision_recall", is_pos, score, name="precision_recall", drop_intermediate=True, sample_weight=weight)
        return scores
    scores["per_class"] = per_class_report(truth, pred, classes)
    for i, c in enumerate(classes):  # one-vs-rest ROC: one file (one line in `dvc plots`) per class
        is_pos, score, weight = curve_rows((truth == c).astype(int), proba[:, i])
        logger.log_sklearn_plot(
            "roc",
            is_pos,
            score,
            name=f"roc_ovr/{_file_name(c)}",
            drop_intermediate=True,
            title=f"ROC: class {c} vs rest",
            sample_weight=weight,
        )
    return scores


def curve_rows(is_pos: np.ndarray, score: np.ndarray, points: int = CURVE_POINTS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rows a ROC or precision-recall curve is drawn from, as (label, score, count): each
    score lowered to the nearest of at most ``points`` cut-offs at or below it (score quantiles,
    each a score of the test rows). ``s >= cut`` holds for the lowered score exactly when it
    holds for ``s``, so the curve drawn with the counts as ``sample_weight`` is the exact curve
    at those cut-offs, with at most ``points`` thresholds."""
    cuts = np.unique(np.quantile(score, np.linspace(0, 1, points), method="lower"))
    at = np.searchsorted(cuts, score, side="right") - 1  # the largest cut <= score (the smallest score is a cut)
    counts = np.bincount(2 * at + is_pos, minlength=2 * len(cuts))
    kept = np.flatnonzero(counts)
    return kept % 2, cuts[kept // 2], counts[kept].astype("float64")


def evaluate_uplift(
    logger: PlotLogger, model: Any, X: pd.DataFrame, y: pd.Series, treatment: pd.Series, true_effect: pd.Series | None
) -> dict[str, Any]:
    """qini, auuc (and pehe against a known effect); the Qini curve as plot data and a PNG, and
    the uplift by decile as a table and a bar plot."""
    from mmp.modeling.models.uplift import estimate_effect

    effect, outcome, treated = estimate_effect(model, X), y.to_numpy(), treatment.to_numpy()
    known = None if true_effect is None else true_effect.to_numpy()
    scores: dict[str, Any] = uplift_metrics(outcome, treated, effect, known)
    curve = qini_curve(outcome, treated, effect)
    at = np.unique(np.linspace(0, len(curve) - 1, min(QINI_POINTS, len(curve))).round().astype(int))
    points = pd.DataFrame({"fraction": (at + 1) / len(curve), "qini": curve[at]}).assign(random=lambda d: d.fraction).round(6)
    logger.log_plot("qini_curve", points, x="fraction", y="qini", template="linear", title="Qini curve (random ranking: qini = fraction)")
    logger.log_image("qini_curve.png", _qini_figure(points, scores["qini"]))
    deciles = uplift_by_decile(outcome, treated, effect, known)
    logger.log_plot(
        "uplift_by_decile", deciles, x="decile", y="observed_uplift", template="bar_horizontal", title="Observed uplift by decile"
    )
    return scores


def _qini_figure(points: pd.DataFrame, qini: float) -> Any:
    """The Qini curve against a random ranking's line, as a matplotlib figure (headless)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4.5), dpi=100)
    ax = fig.add_subplot()
    ax.plot(points["fraction"], points["qini"], label=f"model (qini {qini:.3f})")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="random ranking")
    ax.set(xlabel="fraction of rows, highest estimated effect first", ylabel="normalised Qini", title="Qini curve")
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def _file_name(value: Any) -> str:
    return re.sub(r"[^\w.-]+", "_", str(value)) or "_"
