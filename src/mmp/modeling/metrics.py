"""Task-aware metrics and feature importance. Pure functions over arrays and frames. Which
metrics a task produces and which way each is better: ``mmp.modeling.tasks``."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm


def classification_metrics(y_true: np.ndarray, proba: np.ndarray, classes: np.ndarray, threshold: float) -> dict[str, float]:
    proba = as_probabilities(proba)
    pred = predict_labels(proba, classes, threshold)
    binary = len(classes) == 2
    average = "binary" if binary else "macro"
    pos = classes[1] if binary else None
    extra = {"pos_label": pos} if binary else {}
    scores = {
        "accuracy": skm.accuracy_score(y_true, pred),
        "precision": skm.precision_score(y_true, pred, average=average, zero_division=0, **extra),
        "recall": skm.recall_score(y_true, pred, average=average, zero_division=0, **extra),
        "f1": skm.f1_score(y_true, pred, average=average, zero_division=0, **extra),
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
    if len(classes) == 2:
        return np.where(proba[:, 1] >= threshold, classes[1], classes[0])
    return classes[np.argmax(proba, axis=1)]


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
