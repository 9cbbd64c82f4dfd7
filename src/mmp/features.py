"""The featurizer: one scikit-learn ColumnTransformer built from ``conf/features`` and fitted on
the train split only. Id, time and target columns never become features."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.api import types as ptypes
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, OrdinalEncoder, RobustScaler, StandardScaler

from mmp.config import FeaturesConfig
from mmp.errors import MMPError

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
    chosen = {}
    for kind in ("numeric", "categorical", "date"):
        columns = getattr(cfg, kind).columns
        if columns == "auto":
            explicit = {c for k in ("numeric", "categorical", "date") if isinstance(getattr(cfg, k).columns, list) for c in getattr(cfg, k).columns}
            chosen[kind] = [c for c in by_dtype[kind] if c not in explicit]
        else:
            missing = [c for c in columns if c not in frame.columns]
            if missing:
                raise MMPError(f"features.{kind}.columns", f"columns {missing} are not in the data", ", ".join(candidates))
            leaked = [c for c in columns if c in excluded]
            if leaked:
                raise MMPError(f"features.{kind}.columns", f"{leaked} are id, time or target columns and must not be features")
            chosen[kind] = list(columns)
    return chosen


def build_featurizer(cfg: FeaturesConfig, columns: dict[str, list[str]]) -> ColumnTransformer:
    num, cat = cfg.numeric, cfg.categorical
    numeric_steps = [("impute", SimpleImputer(strategy=num.impute))]
    if num.scale != "none":
        numeric_steps.append(("scale", SCALERS[num.scale]()))
    encoder = (
        OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=cat.min_frequency, sparse_output=False)
        if cat.encode == "onehot"
        else OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
    )
    categorical = Pipeline([("text", AsText()), ("impute", SimpleImputer(strategy=cat.impute, fill_value="missing")), ("encode", encoder)])
    date = Pipeline([("parts", DateParts(tuple(cfg.date.parts))), ("impute", SimpleImputer(strategy="median"))])
    transformers = [
        (name, pipe, cols)
        for name, pipe, cols in (("numeric", Pipeline(numeric_steps), columns["numeric"]), ("categorical", categorical, columns["categorical"]), ("date", date, columns["date"]))
        if cols
    ]
    if not transformers:
        raise MMPError("features", "no feature columns are left after excluding id, time, target and dropped columns")
    return ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=False).set_output(transform="pandas")



def transform(featurizer: ColumnTransformer, frame: pd.DataFrame) -> pd.DataFrame:
    """Featurize raw rows into a float32 matrix with stable, named columns."""
    return featurizer.transform(frame).astype("float32")
