"""Fitting the featurizer on a Dask cluster (``compute=dask``). The featurizer is the one
:func:`mmp.modeling.features.build_featurizer` builds; each step of each column pipeline is
fitted from statistics reduced over the train partitions (quantiles, mean and standard
deviation, minimum and maximum, the most frequent values, category counts) and applied partition
by partition before the next step's statistics are taken. A step is fitted by its own ``fit`` on
a few rows whose statistics are the reduced ones (the median of ``[m]`` is ``m``; ``[m - s, m +
s]`` has mean ``m`` and standard deviation ``s``), so it holds the same fitted attributes as a
local fit and the packaged featurizer is the same local scikit-learn object. Dask's quantiles
are approximate (merged per-partition percentiles): medians and quartiles may differ from the
local fit's by a fraction of the gap between neighbouring values; categories and their counts
are exact."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, OrdinalEncoder, RobustScaler, StandardScaler

from mmp.core.config import FeaturesConfig
from mmp.core.errors import MMPError
from mmp.modeling.features import OutlierClipper, fit_around, fit_encoder_on_counts, mode_rows

QUANTILE_GRID = 101  # the percentiles each partition reports (see quantiles)


def dask_feature_problems(cfg: FeaturesConfig) -> list[MMPError]:
    """Feature settings that fit on the whole train matrix at once (the one rule of which
    featurizers fit on Dask)."""
    errors = []
    if cfg.categorical.encode == "target":
        errors.append(
            MMPError(
                "features.categorical.encode",
                "target encoding is cross-fitted on the whole train split and cannot fit on Dask",
                "auto, onehot, ordinal or native with compute=dask, or compute=local",
            )
        )
    if cfg.selection.method != "none":
        errors.append(
            MMPError(
                "features.selection.method",
                f"{cfg.selection.method} selection scores the whole feature matrix and cannot fit on Dask",
                "none with compute=dask, or compute=local",
            )
        )
    return errors


def fit_featurizer_on_dask(featurizer: Pipeline, train: Any) -> Pipeline:
    """Fit ``featurizer`` (a :func:`build_featurizer` Pipeline without feature selection) on the
    Dask DataFrame ``train``; the same fitted Pipeline as a local fit holds."""
    columns = featurizer.named_steps["columns"]
    fitted = {name: fit_pipeline(pipe, train[cols]) for name, pipe, cols in columns.transformers}
    # The ColumnTransformer learns its layout (input and output columns) from a few rows that
    # go through the already fitted pipelines unchanged; then it holds them as a local fit does.
    return fit_around(featurizer, fitted, lambda: featurizer.fit(few_rows(train)))


def fit_pipeline(pipe: Pipeline, frame: Any) -> Pipeline:
    """Fit each step on the statistics of ``frame`` as the steps before it transform it."""
    for i, (_, step) in enumerate(pipe.steps):
        fit_step(step, frame)
        if i < len(pipe.steps) - 1:
            frame = frame.map_partitions(step.transform, meta=step.transform(few_rows(frame)).iloc[:0])
    return pipe


def few_rows(frame: Any) -> pd.DataFrame:
    """A few made-up rows with ``frame``'s columns and dtypes (for steps that learn no values)."""
    from dask.dataframe.utils import meta_nonempty

    return meta_nonempty(frame._meta)


def fit_step(step: Any, frame: Any) -> None:
    """Fit one step on rows that carry the statistics it learns, reduced over ``frame``."""
    if isinstance(step, OneHotEncoder | OrdinalEncoder):
        fit_encoder(step, frame)
    elif isinstance(step, SimpleImputer | OutlierClipper | StandardScaler | MinMaxScaler | RobustScaler):
        step.fit(representative(step, frame))
    else:  # AsText, DateParts, PolynomialFeatures: they learn the columns only
        step.fit(few_rows(frame))


def representative(step: Any, frame: Any) -> pd.DataFrame:
    """Rows whose statistics, as ``step`` computes them, are those of ``frame``."""
    import dask

    if isinstance(step, SimpleImputer) and step.strategy in ("mean", "median"):
        return rows(frame, [dask.compute(frame.mean())[0] if step.strategy == "mean" else quantiles(frame, [0.5]).iloc[0]])
    if isinstance(step, SimpleImputer) and step.strategy == "most_frequent":
        return most_frequent_rows(frame)
    if isinstance(step, SimpleImputer):  # constant: learns nothing from the values
        return few_rows(frame)
    if isinstance(step, StandardScaler) or (isinstance(step, OutlierClipper) and step.method == "zscore"):
        mean, std = dask.compute(frame.mean(), frame.std(ddof=0))
        return rows(frame, [mean - std, mean + std])
    if isinstance(step, MinMaxScaler):
        low, high = dask.compute(frame.min(), frame.max())
        return rows(frame, [low, high])
    if isinstance(step, OutlierClipper):  # iqr: 25th and 75th percentiles of [a, b] at a + (b - a) / 4 and a + 3 (b - a) / 4
        q = quantiles(frame, [0.25, 0.75])
        q1, q3 = q.iloc[0], q.iloc[1]
        return rows(frame, [q1 - (q3 - q1) / 2, q3 + (q3 - q1) / 2])
    low, high = (p / 100 for p in step.quantile_range)  # RobustScaler: [a, m, b] has median m and these percentiles
    q = quantiles(frame, [low, 0.5, high])
    qlow, median, qhigh = q.iloc[0], q.iloc[1], q.iloc[2]
    return rows(frame, [(qlow - 2 * low * median) / (1 - 2 * low), median, (qhigh - (2 - 2 * high) * median) / (2 * high - 1)])


def quantiles(frame: Any, qs: list[float]) -> pd.DataFrame:
    """The columns' ``qs`` quantiles (one row each, in order), approximate: each partition's
    percentiles at every whole percentile (and at ``qs``), merged by Dask's own
    ``merge_percentiles`` weighted by the partitions' counts of values (one pass)."""
    import dask
    from dask.array.percentile import merge_percentiles

    grid = np.union1d(np.linspace(0, 100, QUANTILE_GRID), np.asarray(qs) * 100)

    def summary(part: pd.DataFrame) -> dict[str, tuple[np.ndarray, int]]:
        values = {c: part[c].dropna().to_numpy("float64") for c in part.columns}
        return {c: (np.percentile(v, grid) if len(v) else grid, len(v)) for c, v in values.items()}

    (parts,) = dask.compute([dask.delayed(summary)(part) for part in frame.to_delayed()])

    def merged(column: str) -> np.ndarray:
        found = [p[column] for p in parts if p[column][1]]
        if not found:  # no value in any partition
            return np.full(len(qs), np.nan)
        vals, counts = zip(*found, strict=True)
        return merge_percentiles(np.asarray(qs) * 100, [grid] * len(vals), vals, method="linear", Ns=counts)

    return pd.DataFrame({c: merged(c) for c in frame.columns}, index=qs)


def rows(frame: Any, values: list[pd.Series]) -> pd.DataFrame:
    return pd.DataFrame([v.reindex(frame.columns) for v in values]).reset_index(drop=True).astype("float64")


def value_counts(frame: Any, dropna: bool) -> dict[str, pd.Series]:
    """Each column's exact value counts: counted per partition, then added up (one pass)."""
    import dask

    def counts(part: pd.DataFrame) -> dict[str, pd.Series]:
        return {c: part[c].value_counts(dropna=dropna) for c in part.columns}

    def total(parts: list[dict[str, pd.Series]]) -> dict[str, pd.Series]:
        return {c: pd.concat([p[c] for p in parts]).groupby(level=0, dropna=dropna).sum() for c in frame.columns}

    (result,) = dask.compute(dask.delayed(total)([dask.delayed(counts)(part) for part in frame.to_delayed()]))
    return result


def most_frequent_rows(frame: Any) -> pd.DataFrame:
    """Each column's most frequent values once each, padded with missing values (see
    :func:`mmp.modeling.features.mode_rows`)."""
    return mode_rows(value_counts(frame, dropna=True), {c: object if frame[c].dtype == object else "float64" for c in frame.columns})


def fit_encoder(encoder: OneHotEncoder | OrdinalEncoder, frame: Any) -> None:
    """The encoder's categories from the exact category counts of ``frame`` (see
    :func:`mmp.modeling.features.fit_encoder_on_counts`)."""
    fit_encoder_on_counts(encoder, value_counts(frame, dropna=False), {c: frame[c].dtype for c in frame.columns})
