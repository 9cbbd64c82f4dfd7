"""Task-aware metrics and feature importance. Pure functions over arrays and frames. Which
metrics a task produces and which way each is better: ``mmp.modeling.tasks``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from mmp.core.config import TaskType
from mmp.core.errors import MMPError, raise_all


def classification_metrics(y_true: np.ndarray, proba: np.ndarray, classes: np.ndarray, threshold: float) -> dict[str, float]:
    proba = as_probabilities(proba)
    pred = predict_labels(proba, classes, threshold)
    binary = len(classes) == 2
    average = "binary" if binary else "macro"
    pos = classes[1] if binary else None
    extra = {"pos_label": pos} if binary else {}
    # one pass for the three (each of precision_score, recall_score and f1_score makes the same one)
    precision, recall, f1, _ = skm.precision_recall_fscore_support(y_true, pred, average=average, zero_division=0, **extra)
    scores = {
        "accuracy": skm.accuracy_score(y_true, pred),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "log_loss": skm.log_loss(y_true, proba, labels=classes),
    }
    if binary:
        is_pos = np.asarray(y_true) == pos
        scores["roc_auc"] = skm.roc_auc_score(is_pos, proba[:, 1])
        scores["pr_auc"] = skm.average_precision_score(is_pos, proba[:, 1])
    else:
        scores["roc_auc"] = skm.roc_auc_score(y_true, proba, multi_class="ovr", average="macro", labels=classes)
        onehot = (np.asarray(y_true)[:, None] == classes[None, :]).astype(int)
        scores["pr_auc"] = skm.average_precision_score(onehot, proba, average="macro")
        for name, fn in (("precision", skm.precision_score), ("recall", skm.recall_score), ("f1", skm.f1_score)):
            scores[f"{name}_weighted"] = fn(y_true, pred, average="weighted", zero_division=0)
    return {k: round(float(v), 6) for k, v in scores.items()}


def binary_f1(y_true: np.ndarray, proba: np.ndarray, classes: np.ndarray, threshold: float) -> float:
    """F1 of the positive class (``classes[1]``) at ``threshold``, as classification_metrics rounds it."""
    pred = predict_labels(as_probabilities(proba), classes, threshold)
    return round(float(skm.f1_score(y_true, pred, pos_label=classes[1], zero_division=0)), 6)


def as_probabilities(proba: np.ndarray) -> np.ndarray:
    """``proba`` in float64 with rows that sum to one. A model fitted on float32 features (the
    featurizer's output; LogisticRegression keeps the dtype) returns float32 probabilities whose
    rows miss 1 by ~1e-7, more than the float64 tolerance of sklearn's log_loss, which then
    warns that "the y_prob values do not sum to one"; casting alone keeps the float32 error."""
    proba = np.asarray(proba, dtype="float64")
    return proba / proba.sum(axis=1, keepdims=True)


def per_class_report(y_true: np.ndarray, pred: np.ndarray, classes: np.ndarray) -> dict[str, dict[str, float]]:
    """Precision, recall, f1 and support of each class (multiclass evaluation)."""
    report = skm.classification_report(y_true, pred, labels=classes, output_dict=True, zero_division=0)
    return {
        str(c): {
            "precision": round(float(r["precision"]), 6),
            "recall": round(float(r["recall"]), 6),
            "f1": round(float(r["f1-score"]), 6),
            "support": int(r["support"]),
        }
        for c, r in ((c, report[str(c)]) for c in classes)
    }


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """rmse, mae and r2; for several targets, their uniform average over the targets."""
    scores = {
        "rmse": float(np.mean(np.sqrt(skm.mean_squared_error(y_true, y_pred, multioutput="raw_values")))),
        "mae": skm.mean_absolute_error(y_true, y_pred),
        "r2": skm.r2_score(y_true, y_pred),
    }
    return {k: round(float(v), 6) for k, v in scores.items()}


def per_target_report(y_true: pd.DataFrame, y_pred: np.ndarray) -> dict[str, dict[str, float]]:
    """Regression metrics of each target of a multi-output model."""
    return {str(t): regression_metrics(y_true[t].to_numpy(), y_pred[:, i]) for i, t in enumerate(y_true.columns)}


def predict_labels(proba: np.ndarray, classes: np.ndarray, threshold: float) -> np.ndarray:
    """Binary: the positive class when its probability reaches ``threshold``; else argmax."""
    if len(classes) == 2:  # indexing, not np.where: the same labels, without broadcasting two scalars
        return classes[(proba[:, 1] >= threshold).astype(np.intp)]
    return classes[np.argmax(proba, axis=1)]


def f1_threshold(is_positive: np.ndarray, score: np.ndarray) -> tuple[float, float]:
    """The decision threshold that maximises F1 of the positive class on these (validation) rows,
    and that F1. Ties go to the highest threshold (the fewest positive predictions); rows with
    no positive give the conventional 0.5 (and F1 0)."""
    is_positive = np.asarray(is_positive, dtype=bool)
    if not is_positive.any():
        return 0.5, 0.0
    precision, recall, cuts = skm.precision_recall_curve(is_positive, np.asarray(score, dtype="float64"))
    with np.errstate(divide="ignore", invalid="ignore"):
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)[:-1]
    best = len(f1) - 1 - int(np.argmax(f1[::-1]))
    # Rounded down, so the row whose score is the cut still reaches it.
    return float(np.floor(cuts[best] * 1e6) / 1e6), round(float(f1[best]), 6)


def feature_importance(model: Any, X: pd.DataFrame, y: Any, seed: int, top_k: int) -> pd.DataFrame:
    """Model-native importance (``feature_importances_`` or |coef|), else permutation importance
    on a seeded sample."""
    values = getattr(model, "feature_importances_", None)
    if values is None and hasattr(model, "coef_"):
        coef = np.abs(np.asarray(model.coef_))
        values = coef.mean(axis=0) if coef.ndim > 1 else coef
    if values is None:
        from sklearn.inspection import permutation_importance

        sample = X.sample(n=min(len(X), 2000), random_state=seed)
        yy = y.loc[sample.index] if hasattr(y, "loc") else y
        values = permutation_importance(model, sample, yy, n_repeats=3, random_state=seed).importances_mean
    values = np.asarray(values, dtype=float)
    if values.sum() > 0:
        values = values / values.sum()
    frame = pd.DataFrame({"feature": list(X.columns), "importance": np.round(values, 6)})
    return frame.sort_values(["importance", "feature"], ascending=[False, True]).head(top_k).reset_index(drop=True)


# -- uplift ------------------------------------------------------------------------------------
# The curves and scores follow causalml's definitions (causalml.metrics.get_qini, get_cumgain,
# qini_score, auuc_score with normalize=True), so figures compare with the guide's: rows are
# ranked by the estimated effect, highest first, and each curve is divided by its last value.


def _ranked_sums(y: np.ndarray, treatment: np.ndarray, effect: np.ndarray) -> tuple[np.ndarray, ...]:
    """Cumulative counts and outcome sums of the treated and control rows, best-ranked first."""
    order = np.argsort(-np.asarray(effect, dtype="float64"), kind="stable")
    t = np.asarray(treatment, dtype="float64")[order]
    yy = np.asarray(y, dtype="float64")[order]
    return np.cumsum(t), np.cumsum(1 - t), np.cumsum(yy * t), np.cumsum(yy * (1 - t))


def _normalised(curve: np.ndarray) -> np.ndarray:
    last = abs(curve[-1]) if len(curve) else 0.0
    return curve / last if last > 0 else curve


def qini_curve(y: np.ndarray, treatment: np.ndarray, effect: np.ndarray) -> np.ndarray:
    """The normalised Qini curve at each of the n ranked rows: the treated outcomes minus the
    control outcomes scaled to the treated count, divided by its value over all rows."""
    n_t, n_c, y_t, y_c = _ranked_sums(y, treatment, effect)
    with np.errstate(divide="ignore", invalid="ignore"):
        curve = np.where(n_c > 0, y_t - y_c * n_t / n_c, 0.0)
    return _normalised(curve)


def uplift_curve(y: np.ndarray, treatment: np.ndarray, effect: np.ndarray) -> np.ndarray:
    """The normalised cumulative gain: (mean treated - mean control outcome) of the top k rows,
    times k; 0 while one group is still empty."""
    n_t, n_c, y_t, y_c = _ranked_sums(y, treatment, effect)
    k = np.arange(1, len(n_t) + 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        curve = np.where((n_t > 0) & (n_c > 0), (y_t / n_t - y_c / n_c) * k, 0.0)
    return _normalised(curve)


def uplift_metrics(y: np.ndarray, treatment: np.ndarray, effect: np.ndarray, true_effect: np.ndarray | None = None) -> dict[str, float]:
    """qini: the mean gap between the model's normalised Qini curve and a random ranking's
    straight line (0: no better than random); auuc: the mean of the normalised uplift curve;
    pehe: the root mean squared error against the known individual effect, when given."""
    n = len(effect)
    random_line = np.arange(1, n + 1) / n
    scores = {
        "qini": float(np.mean(qini_curve(y, treatment, effect) - random_line)),
        "auuc": float(np.mean(uplift_curve(y, treatment, effect))),
    }
    if true_effect is not None:
        scores["pehe"] = float(np.sqrt(np.mean((np.asarray(effect, dtype="float64") - np.asarray(true_effect, dtype="float64")) ** 2)))
    return {k: round(v, 6) for k, v in scores.items()}


def uplift_by_decile(y: np.ndarray, treatment: np.ndarray, effect: np.ndarray, true_effect: np.ndarray | None = None) -> pd.DataFrame:
    """Ten groups of rows by estimated effect, highest first: the mean estimated effect and the
    observed uplift (mean treated minus mean control outcome) of each, and the mean true effect
    when known. A good model's observed uplift falls from decile 1 to 10."""
    frame = pd.DataFrame({"effect": np.asarray(effect, dtype="float64"), "y": y, "t": np.asarray(treatment, dtype="int64")})
    if true_effect is not None:
        frame["true_effect"] = np.asarray(true_effect, dtype="float64")
    ranks = frame["effect"].rank(method="first", ascending=False)
    frame["decile"] = np.ceil(ranks * 10 / len(frame)).astype("int64").clip(1, 10)
    rows = []
    for decile, group in frame.groupby("decile"):
        treated, control = group.loc[group.t == 1, "y"], group.loc[group.t == 0, "y"]
        row = {
            "decile": int(decile),
            "rows": len(group),
            "treated": len(treated),
            "control": len(control),
            "estimated_effect": group["effect"].mean(),
            "observed_uplift": treated.mean() - control.mean() if len(treated) and len(control) else np.nan,
        }
        if true_effect is not None:
            row["true_effect"] = group["true_effect"].mean()
        rows.append(row)
    return pd.DataFrame(rows).round(6)


@dataclass(frozen=True)
class ExtraMetric:
    """A user's metric (``evaluate.extra_metrics``): ``fn(y_true, y_pred, y_score) -> float``,
    recorded under ``name`` (the function's name). ``y_pred`` holds predicted labels (at
    ``evaluate.threshold`` for binary tasks) or, for regression, predicted values; ``y_score``
    the positive-class probability (binary), the class-probability matrix (multiclass) or None
    (regression). ``greater_is_better`` (an attribute of the function, default True) sets its
    direction for tuning and for the gate's beat-champion check."""

    name: str
    fn: Callable[[Any, Any, Any], float]
    greater_is_better: bool

    def __call__(self, y_true: Any, y_pred: Any, y_score: Any) -> float:
        return round(float(self.fn(y_true, y_pred, y_score)), 6)


def load_extra_metrics(paths: Sequence[str], task: TaskType, key: str = "evaluate.extra_metrics") -> list[ExtraMetric]:
    """Import every metric named in ``paths``; a bad path, a non-callable or a name that
    shadows a built-in metric is one line each, naming the key and the path."""
    from mmp.core.plugins import import_object
    from mmp.modeling.tasks import metric_names

    metrics: list[ExtraMetric] = []
    errors: list[MMPError] = []
    builtin = set(metric_names(task))
    for i, path in enumerate(paths):
        try:
            fn = import_object(path, f"{key}[{i}]")
        except MMPError as err:
            errors.append(err)
            continue
        name = path.rpartition(":")[2]
        if not callable(fn):
            errors.append(MMPError(f"{key}[{i}]", f"{path!r} is not a function", "a function (y_true, y_pred, y_score) -> float"))
        elif name in builtin or name in {m.name for m in metrics}:
            errors.append(
                MMPError(f"{key}[{i}]", f"{path!r}: the metric name {name!r} is taken", f"a name other than {', '.join(sorted(builtin))}")
            )
        else:
            metrics.append(ExtraMetric(name, fn, bool(getattr(fn, "greater_is_better", True))))
    raise_all(errors)
    return metrics


def extra_metric_values(
    metrics: Sequence[ExtraMetric], y_true: Any, prediction: np.ndarray, classes: np.ndarray | None, threshold: float = 0.5
) -> dict[str, float]:
    """Each extra metric on one prediction: ``prediction`` is ``predict_proba``'s matrix for
    classification (``classes`` its columns), the predicted values for regression (``classes``
    None)."""
    if not metrics:
        return {}
    truth = np.asarray(y_true)
    if classes is None:
        y_pred, y_score = np.asarray(prediction), None
    else:
        proba = as_probabilities(prediction)
        y_pred = predict_labels(proba, classes, threshold)
        y_score = proba[:, 1] if len(classes) == 2 else proba
    return {m.name: m(truth, y_pred, y_score) for m in metrics}
