"""The evaluate step's global explanation: on a seeded sample of the test split, the mean absolute
contribution of each raw input column (a bar plot) and SHAP's beeswarm of the contributions (a
PNG), both logged to the stage's dvclive directory and so declared as its plots."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from mmp.inference.explain import Explainer, lightgbm_booster, raw_columns, source_matrix
from mmp.pipeline.evaluation import PlotLogger

SAMPLE_ROWS = 1000  # rows explained: enough for a stable mean, and evaluate stays fast
PERMUTATION_ROWS = 10  # a model-agnostic explainer calls the model hundreds of times per row: a small sample
BACKGROUND_ROWS = 100  # the linear and permutation explainers' background
BEESWARM_COLUMNS = 15
BEESWARM = "explanation_beeswarm.png"


def explain_globally(logger: PlotLogger, model: Any, featurizer: Any, X: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Log the summary (mean |contribution| per raw column, largest first) and the beeswarm, and
    return the summary."""
    columns = raw_columns(featurizer)
    mapping = source_matrix(featurizer, columns)
    background = X.sample(n=min(len(X), BACKGROUND_ROWS), random_state=seed).to_numpy(dtype=np.float64)
    booster = lightgbm_booster(model)
    explainer = Explainer(model, mapping, columns, background, booster)
    rows = PERMUTATION_ROWS if explainer.method == "shap_permutation" else SAMPLE_ROWS
    sample = X.sample(n=min(len(X), rows), random_state=seed)
    explanation = explainer.explain(sample.to_numpy(dtype=np.float64), _explained(model, sample))
    mean_abs = np.abs(explanation.contributions).mean(axis=0)
    summary = pd.DataFrame({"column": columns, "mean_abs_contribution": np.round(mean_abs, 6)})
    summary = summary.sort_values(["mean_abs_contribution", "column"], ascending=[False, True]).reset_index(drop=True)
    logger.log_plot(
        "explanation",
        summary,
        x="mean_abs_contribution",
        y="column",
        template="bar_horizontal_sorted",
        title=f"Mean |contribution| by raw column ({explanation.method}, {len(sample)} test rows)",
    )
    log_image = getattr(logger, "log_image", None)
    if log_image is not None:
        log_image(BEESWARM, beeswarm(explanation.contributions, explanation.base_value, _colour_values(sample, mapping), columns))
    return summary


def beeswarm(contributions: np.ndarray, base: np.ndarray, values: np.ndarray, columns: list[str]) -> Any:
    """SHAP's beeswarm as a matplotlib figure (Agg: no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import shap

    explanation = shap.Explanation(values=contributions, base_values=base, data=values, feature_names=columns)
    plt.close("all")
    with warnings.catch_warnings():  # a one-hot column's dots are NaN on purpose (grey): its colour scale is all-NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        state = np.random.get_state()  # the beeswarm jitters its dots with NumPy's global RNG: seed it, so
        np.random.seed(0)  # the PNG (a DVC-tracked output) is byte-identical run after run
        try:
            shap.plots.beeswarm(explanation, max_display=BEESWARM_COLUMNS, show=False, plot_size=(8, 6))
        finally:
            np.random.set_state(state)
    figure = plt.gcf()
    figure.suptitle("Contributions by raw column (SHAP values) on test rows", fontsize=11)
    figure.tight_layout()
    return figure


def _colour_values(sample: pd.DataFrame, mapping: np.ndarray) -> np.ndarray:
    """What colours each dot: the value of a raw column that is one model feature (a scaled
    number keeps its order); NaN (grey) for a column spread over several features (one-hot,
    date parts)."""
    out = np.full((len(sample), mapping.shape[1]), np.nan)
    X = sample.to_numpy(dtype=np.float64)
    for j in range(mapping.shape[1]):
        features = np.flatnonzero(mapping[:, j])
        if len(features) == 1 and mapping[features[0], j] == 1.0:
            out[:, j] = X[:, features[0]]
    return out


def _explained(model: Any, X: pd.DataFrame) -> np.ndarray | None:
    """Multiclass: each row's predicted class; else the default (the positive class)."""
    classes = getattr(model, "classes_", None)
    if classes is None or len(classes) <= 2:
        return None
    return np.asarray(np.argmax(model.predict_proba(X), axis=1), dtype=np.intp)
