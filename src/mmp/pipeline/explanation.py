"""The evaluate step's global explanation: on a seeded sample of the test split, the mean absolute
contribution of each raw input column (a bar plot) and SHAP's beeswarm of the contributions (a
PNG), both logged to the stage's dvclive directory and so declared as its plots."""

from __future__ import annotations

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
    """SHAP's beeswarm as a matplotlib figure, drawn here the way ``shap.plots.beeswarm`` draws
    it (rows by mean |contribution|, dots stacked in 100 bins, coloured by the column's value
    between its 5th and 95th percentiles, grey where it has none): importing shap for this one
    figure cost the evaluate stage about 1 s. ``base`` is not drawn (SHAP's plot omits it too)."""
    import matplotlib

    matplotlib.use("Agg")  # dvclive saves the figure through pyplot: no display needed
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import LinearSegmentedColormap
    from matplotlib.figure import Figure

    order = np.argsort(-np.abs(contributions).mean(axis=0), kind="stable")
    rows, labels = _beeswarm_rows(contributions, values, order, columns)
    rng = np.random.RandomState(0)  # seeded jitter: the PNG (a DVC-tracked output) is the same run after run
    colours = LinearSegmentedColormap.from_list("shap_red_blue", ["#008bfb", "#ff0051"])  # SHAP's blue to red
    fig = Figure(figsize=(8, 6))
    ax = fig.add_subplot()
    ax.axvline(x=0, color="#999999", zorder=-1)
    for pos, (shaps, fvalues) in enumerate(reversed(rows)):
        ax.axhline(y=pos, color="#cccccc", lw=0.5, dashes=(1, 5), zorder=-1)
        shuffled = rng.permutation(len(shaps))
        shaps, fvalues = shaps[shuffled], fvalues[shuffled]
        ys = pos + _swarm_offsets(shaps, rng)
        missing = np.isnan(fvalues)
        dots: dict[str, Any] = {"s": 16, "linewidth": 0, "zorder": 3, "rasterized": len(shaps) > 500}
        ax.scatter(shaps[missing], ys[missing], color="#777777", **dots)
        if not missing.all():
            low, high = _colour_range(fvalues[~missing])
            ax.scatter(shaps[~missing], ys[~missing], c=np.clip(fvalues[~missing], low, high), cmap=colours, vmin=low, vmax=high, **dots)
    bar = fig.colorbar(ScalarMappable(cmap=colours), ax=ax, ticks=[0, 1], aspect=80)
    bar.set_ticklabels(["Low", "High"])
    bar.set_label("Feature value", size=12, labelpad=0)
    bar.ax.tick_params(labelsize=11, length=0)
    bar.outline.set_visible(False)
    ax.xaxis.set_ticks_position("bottom")
    ax.yaxis.set_ticks_position("none")
    for side in ("right", "top", "left"):
        ax.spines[side].set_visible(False)
    ax.tick_params(color="#333333", labelcolor="#333333")
    ax.set_yticks(range(len(labels)), list(reversed(labels)), fontsize=13)
    ax.tick_params("y", length=20, width=0.5, which="major")
    ax.tick_params("x", labelsize=11)
    ax.set_ylim(-1, len(labels))
    ax.set_xlabel("SHAP value (impact on model output)", fontsize=13)
    fig.suptitle("Contributions by raw column (SHAP values) on test rows", fontsize=11)
    fig.tight_layout()
    return fig


def _beeswarm_rows(
    contributions: np.ndarray, values: np.ndarray, order: np.ndarray, columns: list[str]
) -> tuple[list[tuple[np.ndarray, np.ndarray]], list[str]]:
    """(contributions, colour values) per row, top row first, with their labels: the
    ``BEESWARM_COLUMNS - 1`` largest columns and the sum of the rest when there are more."""
    if len(order) <= BEESWARM_COLUMNS:
        return [(contributions[:, j], values[:, j]) for j in order], [columns[j] for j in order]
    shown, rest = order[: BEESWARM_COLUMNS - 1], order[BEESWARM_COLUMNS - 1 :]
    rows = [(contributions[:, j], values[:, j]) for j in shown]
    rows.append((contributions[:, rest].sum(axis=1), np.full(len(contributions), np.nan)))
    return rows, [columns[j] for j in shown] + [f"Sum of {len(rest)} other features"]


def _swarm_offsets(shaps: np.ndarray, rng: np.random.RandomState, row_height: float = 0.4) -> np.ndarray:
    """Each dot's vertical offset: dots in one of 100 bins of the row's range are stacked
    alternately above and below the row's line."""
    spread = np.max(shaps) - np.min(shaps) + 1e-8
    quant = np.round(100 * (shaps - np.min(shaps)) / spread)
    ys = np.zeros(len(shaps))
    layer, last_bin = 0, -1.0
    for ind in np.argsort(quant + rng.randn(len(shaps)) * 1e-6):
        layer = 0 if quant[ind] != last_bin else layer
        ys[ind] = np.ceil(layer / 2) * ((layer % 2) * 2 - 1)
        layer, last_bin = layer + 1, quant[ind]
    return ys * 0.9 * (row_height / np.max(ys + 1))


def _colour_range(fvalues: np.ndarray) -> tuple[float, float]:
    """The colour scale's ends: the 5th and 95th percentiles (wider when they coincide)."""
    for q in (5, 1):
        low, high = np.percentile(fvalues, [q, 100 - q])
        if low != high:
            return float(min(low, high)), float(high)
    return float(np.min(fvalues)), float(np.max(fvalues))


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
