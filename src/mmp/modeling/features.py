"""The featurizer: one scikit-learn Pipeline (a ColumnTransformer per column kind, then optional
feature selection) built from ``conf/features`` and fitted on the train split only. Id, time
and target columns never become features."""

from __future__ import annotations

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
        return pd.DataFrame({c: X[c].astype(str).where(X[c].notna(), np.nan).astype(object) for c in X.columns}, index=X.index)

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return self.feature_names_in_


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
        values = np.asarray(X, dtype="float64")
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


def fit_transform(featurizer: Pipeline, frame: pd.DataFrame, y: pd.Series | pd.DataFrame) -> pd.DataFrame:
    """Fit on the train split and return its features (cross-fitted where the encoder is)."""
    import warnings

    with warnings.catch_warnings():
        # SelectKBest warns on constant columns (e.g. a one-year date part); they score last.
        warnings.filterwarnings("ignore", message="Features .* are constant", category=UserWarning)
        warnings.filterwarnings("ignore", category=RuntimeWarning, module="sklearn.feature_selection")
        return _float32(featurizer.fit_transform(frame, y))


def transform(featurizer: Pipeline, frame: pd.DataFrame) -> pd.DataFrame:
    """Featurize raw rows into float32 features with stable, named columns (category codes as
    integers, see :func:`category_codes`)."""
    return _float32(featurizer.transform(frame))


def fit_features(train: pd.DataFrame, params: Params) -> tuple[Pipeline, pd.DataFrame]:
    """Fit the recipe's preprocessing on the train rows only: the featurizer and the train feature
    matrix, with the label columns (target, and an uplift task's treatment and known effect)
    joined beside it."""
    from mmp.core.target import target

    data = params.data
    columns = select_columns(train, params.features, data.non_feature_cols)
    featurizer = build_featurizer(params.features, columns, data.task_type, params.seed, params.model.class_path)
    X_train = fit_transform(featurizer, train, target(train, data.targets))
    return featurizer, X_train.join(train[data.label_cols])
