"""The featurizer: one scikit-learn Pipeline (a ColumnTransformer per column kind, then optional
feature selection) built from ``conf/features`` and fitted on the train split only. Id, time
and target columns never become features."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import numpy as np
import pandas as pd
from pandas.api import types as ptypes
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    MinMaxScaler,
    OneHotEncoder,
    OrdinalEncoder,
    PolynomialFeatures,
    RobustScaler,
    StandardScaler,
    TargetEncoder,
)

from mmp.core.config import FeaturesConfig, Params, TaskType, task_kind
from mmp.core.errors import MMPError, raise_all

T = TypeVar("T")

SCALERS = {"standard": StandardScaler, "minmax": MinMaxScaler, "robust": RobustScaler}


class DateParts(TransformerMixin, BaseEstimator):
    """Datetime columns to numeric parts (year, month, ...); missing dates stay NaN."""

    def __init__(self, parts: tuple[str, ...] = ("year", "month", "dayofweek")):
        self.parts = parts

    def fit(self, X: pd.DataFrame, y: object = None) -> DateParts:
        self.feature_names_in_ = np.asarray(list(X.columns), dtype=object)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        out = {}
        for col in X.columns:
            values = pd.to_datetime(X[col])
            for part in self.parts:
                out[f"{col}_{part}"] = getattr(values.dt, part).astype("float64")
        return pd.DataFrame(out, index=X.index)

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return np.asarray([f"{c}_{p}" for c in self.feature_names_in_ for p in self.parts], dtype=object)


class AsText(TransformerMixin, BaseEstimator):
    """Categorical values as text with missing kept missing, so int-coded and string categories
    impute and encode the same way at fit and at predict time."""

    def fit(self, X: pd.DataFrame, y: object = None) -> AsText:
        self.feature_names_in_ = np.asarray(list(X.columns), dtype=object)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({c: as_text(X[c]) for c in X.columns}, index=X.index)

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return self.feature_names_in_


def as_text(values: pd.Series) -> pd.Series:
    """One column as :class:`AsText` gives it: text, missing kept missing, object dtype."""
    return values.astype(str).where(values.notna(), np.nan).astype(object)


def select_columns(frame: pd.DataFrame, cfg: FeaturesConfig, excluded: list[str]) -> dict[str, list[str]]:
    """Columns per kind: explicit lists win; ``auto`` picks by dtype among the rest."""
    candidates = [c for c in frame.columns if c not in set(excluded) | set(cfg.drop)]
    by_dtype = {
        "numeric": [c for c in candidates if ptypes.is_numeric_dtype(frame[c]) and not ptypes.is_bool_dtype(frame[c])],
        "date": [c for c in candidates if ptypes.is_datetime64_any_dtype(frame[c])],
    }
    by_dtype["categorical"] = [c for c in candidates if c not in by_dtype["numeric"] + by_dtype["date"]]
    chosen, errors = {}, []
    explicit = set(cfg.explicit_columns())
    for kind in ("numeric", "categorical", "date"):
        columns = getattr(cfg, kind).columns
        if columns == "auto":
            chosen[kind] = [c for c in by_dtype[kind] if c not in explicit]
            continue
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            errors.append(MMPError(f"features.{kind}.columns", f"columns {missing} are not in the data", ", ".join(map(str, candidates))))
        leaked = [c for c in columns if c in excluded]
        if leaked:
            errors.append(
                MMPError(
                    f"features.{kind}.columns",
                    f"{leaked} are id, time or target columns and must not be features",
                    "remove them from the list",
                )
            )
        chosen[kind] = list(columns)
    raise_all(errors)
    return chosen


class OutlierClipper(TransformerMixin, BaseEstimator):
    """Clip numeric columns to bounds learned on the train split: ``iqr`` (Tukey fences,
    ``factor`` x IQR beyond the quartiles) or ``zscore`` (``factor`` standard deviations)."""

    def __init__(self, method: str = "iqr", factor: float | None = None):
        self.method, self.factor = method, factor

    def fit(self, X: pd.DataFrame, y: object = None) -> OutlierClipper:
        values = X.astype("float64").to_numpy()  # a nullable column's NA as NaN (np.asarray cannot)
        if self.method == "iqr":
            factor = 1.5 if self.factor is None else self.factor
            q1, q3 = np.nanpercentile(values, 25, axis=0), np.nanpercentile(values, 75, axis=0)
            self.lower_, self.upper_ = q1 - factor * (q3 - q1), q3 + factor * (q3 - q1)
        else:
            factor = 3.0 if self.factor is None else self.factor
            mean, std = np.nanmean(values, axis=0), np.nanstd(values, axis=0)
            self.lower_, self.upper_ = mean - factor * std, mean + factor * std
        self.feature_names_in_ = np.asarray(list(X.columns), dtype=object)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        bounds = {"lower": pd.Series(self.lower_, index=X.columns), "upper": pd.Series(self.upper_, index=X.columns)}
        return X.astype("float64").clip(**bounds, axis=1)

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return self.feature_names_in_


def build_featurizer(
    cfg: FeaturesConfig, columns: dict[str, list[str]], task: TaskType = "binary", seed: int = 42, class_path: str | None = None
) -> Pipeline:
    """One Pipeline: a ColumnTransformer per column kind, then optional feature selection.
    Fit it with ``(train, y)``: target encoding and selection learn from the target.
    ``class_path`` (the model's) resolves ``encode: auto``."""
    encoding = cfg.categorical.encoding(class_path)
    transformers = [
        (name, pipe, columns[name])
        for name, pipe in (("numeric", _numeric(cfg)), ("categorical", _categorical(cfg, encoding, seed)), ("date", _date(cfg)))
        if columns[name]
    ]
    if not transformers:
        raise MMPError("features", "no feature columns are left after excluding id, time, target and dropped columns")
    steps = [("columns", ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=False))]
    if cfg.selection.method != "none":
        steps.append(("select", _selector(cfg, task, seed)))
    return Pipeline(steps).set_output(transform="pandas")


def _numeric(cfg: FeaturesConfig) -> Pipeline:
    num = cfg.numeric
    steps = [] if num.clip == "none" else [("clip", OutlierClipper(num.clip, num.clip_factor))]
    steps.append(("impute", SimpleImputer(strategy=num.impute, fill_value=num.fill_value)))
    if num.scale != "none":
        steps.append(("scale", SCALERS[num.scale]()))
    if cfg.interactions.enabled:
        inter = cfg.interactions
        steps.append(("interactions", PolynomialFeatures(degree=inter.degree, interaction_only=inter.interaction_only, include_bias=False)))
    return Pipeline(steps)


def _categorical(cfg: FeaturesConfig, encoding: str, seed: int) -> Pipeline:
    cat = cfg.categorical
    rare = {"min_frequency": cat.min_frequency, "max_categories": cat.max_categories}
    if encoding == "onehot":
        encoder = OneHotEncoder(handle_unknown="infrequent_if_exist", sparse_output=False, **rare)
    elif encoding == "ordinal":
        encoder = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1, **rare)
    elif encoding == "native":  # integer codes (an unseen category: -1, which LightGBM takes as missing)
        encoder = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1, dtype=np.int32, **rare)
    else:  # target: cross-fitted on the train split (fit_transform), so a row never sees its own target
        from sklearn.model_selection import KFold

        encoder = TargetEncoder(cv=KFold(5, shuffle=True, random_state=seed))
    impute = SimpleImputer(strategy=cat.impute, fill_value=cat.fill_value)
    return Pipeline([("text", AsText()), ("impute", impute), ("encode", encoder)])


def _date(cfg: FeaturesConfig) -> Pipeline:
    return Pipeline([("parts", DateParts(tuple(cfg.date.parts))), ("impute", SimpleImputer(strategy="median"))])


def _selector(cfg: FeaturesConfig, task: TaskType, seed: int) -> TransformerMixin:
    sel = cfg.selection
    classify = task_kind(task) == "classification"
    if sel.method == "kbest":
        from sklearn.feature_selection import SelectKBest, f_classif, f_regression

        return SelectKBest(f_classif if classify else f_regression, k=sel.k)
    from sklearn.ensemble import ExtraTreesClassifier, ExtraTreesRegressor
    from sklearn.feature_selection import SelectFromModel

    forest = (ExtraTreesClassifier if classify else ExtraTreesRegressor)(n_estimators=50, random_state=seed, n_jobs=1)
    return SelectFromModel(forest, threshold=-np.inf if sel.k else sel.threshold, max_features=sel.k)


def category_codes(features: pd.DataFrame) -> list[str]:
    """The feature columns that hold category codes (``features.categorical.encode: native``):
    the integer columns of a feature matrix, every other feature being float32. LightGBM is
    told them at fit (``mmp.modeling.training.category_kwargs``); to other models they are numbers."""
    return [str(c) for c in features.columns if ptypes.is_integer_dtype(features[c])]


def _float32(features: pd.DataFrame) -> pd.DataFrame:
    """float32 features; category codes stay integers, so the fit knows them (:func:`category_codes`)."""
    codes = set(category_codes(features))
    return features.astype({c: "float32" for c in features.columns if c not in codes})


# A faster transform of a fitted featurizer that gives scikit-learn's values (the pipeline passes
# mmp.inference.compiled's, a layer above this one); None where it cannot take the featurizer.
FastTransform = Callable[[Pipeline, pd.DataFrame], "np.ndarray | None"]
LAYOUT_ROWS = 1000  # the rows scikit-learn itself transforms when a fast transform does the rest


def fit_transform(
    featurizer: Pipeline, frame: pd.DataFrame, y: pd.Series | pd.DataFrame, fast: FastTransform | None = None
) -> pd.DataFrame:
    """Fit on the train split and return its features (cross-fitted where the encoder is).
    The categorical block is fitted from its columns' value counts first (see
    :func:`fit_categorical_by_counts`), then the rest around it. When every block was fitted so
    and no selector follows, the column transformer's own fit only records the blocks' layout,
    which its first rows give: ``fast`` then transforms the split."""
    import warnings

    columns = featurizer.steps[0][1]
    fitted = {name: pipe for name, pipe, cols in columns.transformers if _fitted_ahead(name, pipe, frame[cols])}
    with warnings.catch_warnings():
        # SelectKBest warns on constant columns (e.g. a one-year date part); they score last.
        warnings.filterwarnings("ignore", message="Features .* are constant", category=UserWarning)
        warnings.filterwarnings("ignore", category=RuntimeWarning, module="sklearn.feature_selection")
        if fast is not None and len(featurizer.steps) == 1 and len(fitted) == len(columns.transformers):
            head = fit_around(featurizer, fitted, lambda: featurizer.fit_transform(frame.iloc[:LAYOUT_ROWS], y.iloc[:LAYOUT_ROWS]))
            X = _fast_like(_float32(head), fast, featurizer, frame)
            if X is not None:
                return X
        return _float32(fit_around(featurizer, fitted, lambda: featurizer.fit_transform(frame, y)))


def _fast_like(head: pd.DataFrame, fast: FastTransform, featurizer: Pipeline, frame: pd.DataFrame) -> pd.DataFrame | None:
    """``fast``'s features of ``frame`` laid out as scikit-learn's features of its first rows
    (``head``): the same names, order and dtypes. None where ``fast`` cannot take the
    featurizer, or (a defect, said on stderr) where it disagrees with ``head``."""
    import sys

    values = fast(featurizer, frame)
    if values is None:
        return None
    X = pd.DataFrame(values, columns=head.columns, index=frame.index, copy=False)
    try:
        X = X.astype(head.dtypes.to_dict())
    except (TypeError, ValueError):  # a missing value where scikit-learn gives integer codes
        X = None
    if X is None or not X.iloc[: len(head)].equals(head):
        print(
            "warning: featurize: the compiled featurizer disagrees with scikit-learn's on the first rows: using scikit-learn's",
            file=sys.stderr,
        )
        return None
    return X


def _fitted_ahead(name: str, pipe: Pipeline, frame: pd.DataFrame) -> bool:
    """Fit a column block ahead of the featurizer's fit where a faster fit gives the same steps."""
    if name == "categorical":
        return fit_categorical_by_counts(pipe, frame)
    return fit_with_exact_medians(pipe, frame)


def fit_with_exact_medians(pipe: Pipeline, frame: pd.DataFrame) -> bool:
    """Fit ``pipe`` step by step, as ``Pipeline.fit`` does, with each median ``SimpleImputer``
    fitted on :func:`median_rows` instead of every row: the same statistics, found by a
    partition instead of scikit-learn's full sort of a masked array (most of the numeric and
    date blocks' fit at millions of rows). False, and nothing fitted, without such an imputer."""
    if not any(_exact_median_imputer(step) for _, step in pipe.steps):
        return False
    X = frame
    for _, step in pipe.steps:
        by_middle = _exact_median_imputer(step) and isinstance(X, pd.DataFrame)
        X = step.fit(median_rows(X)).transform(X) if by_middle else step.fit_transform(X)
    return True


def _exact_median_imputer(step: object) -> bool:
    missing = getattr(step, "missing_values", None)
    return (
        isinstance(step, SimpleImputer)
        and step.strategy == "median"
        and not step.add_indicator  # the indicator learns which columns have missing values
        and isinstance(missing, float)
        and np.isnan(missing)
    )


def median_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Two rows per column whose median, as ``SimpleImputer`` computes it, is the column's: its
    two middle present values (the middle one twice for an odd count), so the imputer averages
    the very numbers it would on every row. A column with no value stays missing."""
    rows = {}
    for c in frame.columns:
        present = frame[c].dropna().to_numpy()
        middle = [(len(present) - 1) // 2, len(present) // 2]
        pair = np.partition(present, middle)[middle] if len(present) else [np.nan, np.nan]
        rows[c] = pd.Series(pair, dtype=frame[c].dtype)
    return pd.DataFrame(rows)


def fit_around(featurizer: Pipeline, fitted: dict[str, Pipeline], fit: Callable[[], T]) -> T:
    """Run ``fit`` (a fit of ``featurizer``) with the column pipelines in ``fitted`` already
    fitted and left as they are; afterwards the featurizer holds them as if it had fitted them."""
    from sklearn.frozen import FrozenEstimator

    columns = featurizer.steps[0][1]
    unfitted = columns.transformers
    columns.transformers = [(name, FrozenEstimator(fitted[name]) if name in fitted else pipe, cols) for name, pipe, cols in unfitted]
    try:
        result = fit()
    finally:
        columns.transformers = unfitted
    columns.transformers_ = [(name, fitted.get(name, step), cols) for name, step, cols in columns.transformers_]
    return result


def fit_categorical_by_counts(pipe: Pipeline, frame: pd.DataFrame) -> bool:
    """Fit ``AsText -> SimpleImputer -> OneHotEncoder | OrdinalEncoder`` from each column's value
    counts, each step by its own ``fit`` on rows that carry those counts (as the Dask fit does):
    the same fitted steps as a fit on every row, without scikit-learn's per-value Python loop
    over object columns (most of the featurize time at millions of rows). False, and nothing
    fitted, for another pipeline or a column with no value (the imputer drops it)."""
    text, impute, encode = (step for _, step in pipe.steps)
    if not isinstance(encode, OneHotEncoder | OrdinalEncoder) or impute.strategy not in ("most_frequent", "constant"):
        return False
    text.fit(frame)
    counts = {c: _text_counts(frame[c]) for c in frame.columns}
    present = {c: n[n.index.notna()] for c, n in counts.items()}
    if any(n.empty for n in present.values()):
        return False
    impute.fit(mode_rows(present, {c: object for c in present}))
    imputed = {c: _filled(n, fill) for (c, n), fill in zip(counts.items(), impute.statistics_, strict=True)}
    fit_encoder_on_counts(encode, imputed, {c: object for c in imputed})
    return True


def _text_counts(column: pd.Series) -> pd.Series:
    """How often each of ``AsText``'s values occurs in ``column`` (missing as NaN): counted on
    the raw values, then their text (two raw values may have one text, 1 and "1")."""
    raw = column.value_counts(dropna=False, sort=False)
    values = as_text(pd.Series(raw.index, dtype=column.dtype))
    return pd.Series(raw.to_numpy(), index=pd.Index(values.to_numpy(dtype=object), dtype=object)).groupby(level=0, dropna=False).sum()


def _filled(counts: pd.Series, fill: object) -> pd.Series:
    """The counts after the imputer has put ``fill`` in place of every missing value."""
    missing = int(counts[counts.index.isna()].sum())
    present = counts[counts.index.notna()]
    if not missing:
        return present
    return pd.concat([present, pd.Series([missing], index=pd.Index([fill], dtype=object))]).groupby(level=0).sum()


def mode_rows(counts: dict[str, pd.Series], dtypes: dict[str, object]) -> pd.DataFrame:
    """Each column's most frequent values once each, padded with missing values: an imputer
    fitted on them picks among them by its own rule (the smallest of tied values)."""
    modes = {c: list(n[n == n.max()].index) if len(n) else [] for c, n in counts.items()}
    length = max(1, *(len(m) for m in modes.values()))
    return pd.DataFrame({c: pd.Series(m + [np.nan] * (length - len(m)), dtype=dtypes[c]) for c, m in modes.items()})


def fit_encoder_on_counts(encoder: OneHotEncoder | OrdinalEncoder, counts: dict[str, pd.Series], dtypes: dict[str, object]) -> None:
    """The encoder's categories from exact category counts: it is fitted on every category
    once, then its infrequent categories (``min_frequency``, ``max_categories``) are drawn from
    the true counts by scikit-learn's own rule."""
    length = max(len(n) for n in counts.values())
    seen = {c: list(n.index) for c, n in counts.items()}
    encoder.fit(pd.DataFrame({c: pd.Series(v + v[:1] * (length - len(v)), dtype=dtypes[c]) for c, v in seen.items()}))
    if encoder._infrequent_enabled:
        n_rows = int(next(iter(counts.values())).sum())
        true_counts = [counts[c].reindex(cats).to_numpy() for c, cats in zip(counts, encoder.categories_, strict=True)]
        encoder._fit_infrequent_category_mapping(n_rows, true_counts, getattr(encoder, "_missing_indices", {}))
        if isinstance(encoder, OneHotEncoder):  # as OneHotEncoder.fit does after the mapping
            encoder._set_drop_idx()
            encoder._n_features_outs = encoder._compute_n_features_outs()


def transform(featurizer: Pipeline, frame: pd.DataFrame, fast: FastTransform | None = None) -> pd.DataFrame:
    """Featurize raw rows into float32 features with stable, named columns (category codes as
    integers, see :func:`category_codes`); by ``fast`` where it takes the featurizer."""
    if fast is not None and len(frame) > LAYOUT_ROWS:
        X = _fast_like(_float32(featurizer.transform(frame.iloc[:LAYOUT_ROWS])), fast, featurizer, frame)
        if X is not None:
            return X
    return _float32(featurizer.transform(frame))


def fit_features(train: pd.DataFrame, params: Params, fast: FastTransform | None = None) -> tuple[Pipeline, pd.DataFrame]:
    """Fit the recipe's preprocessing on the train rows only: the featurizer and the train feature
    matrix (by ``fast`` where it can, see :func:`fit_transform`), with the label columns (target,
    and an uplift task's treatment and known effect) joined beside it."""
    from mmp.core.target import target

    data = params.data
    columns = select_columns(train, params.features, data.non_feature_cols)
    featurizer = build_featurizer(params.features, columns, data.task_type, params.seed, params.model.class_path)
    X_train = fit_transform(featurizer, train, target(train, data.targets), fast)
    return featurizer, X_train.join(train[data.label_cols])
