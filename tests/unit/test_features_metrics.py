from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mmp.core.config import FeaturesConfig
from mmp.core.errors import MMPError
from mmp.modeling.features import build_featurizer, select_columns, transform
from mmp.modeling.metrics import classification_metrics, feature_importance, regression_metrics


def raw() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [1, 2, 3, 4],
            "x": [1.0, None, 3.0, 5.0],
            "color": ["red", "blue", None, "red"],
            "when": pd.to_datetime(["2024-01-01", "2024-02-15", None, "2024-03-31"]),
            "y": [0, 1, 0, 1],
        }
    )


def test_columns_by_dtype_never_include_id_time_or_target() -> None:
    cols = select_columns(raw(), FeaturesConfig(), excluded=["id", "y"])
    assert cols == {"numeric": ["x"], "categorical": ["color"], "date": ["when"]}


def test_explicit_leaking_column_is_rejected() -> None:
    cfg = FeaturesConfig.model_validate({"numeric": {"columns": ["x", "id"]}})
    with pytest.raises(MMPError, match="id, time or target"):
        select_columns(raw(), cfg, excluded=["id", "y"])


def test_featurizer_fits_on_train_and_handles_unseen_and_missing_values() -> None:
    cfg = FeaturesConfig.model_validate({"numeric": {"scale": "none"}})
    data = raw()
    featurizer = build_featurizer(cfg, select_columns(data, cfg, ["id", "y"])).fit(data)
    out = transform(featurizer, pd.DataFrame({"id": [9], "x": [None], "color": ["green"], "when": [pd.NaT], "y": [0]}))
    assert out.dtypes.unique().tolist() == [np.float32]
    assert out.loc[0, "x"] == 3.0, "the median learned on train fills the gap"
    assert out.filter(like="color_").sum(axis=1).iloc[0] == 0, "an unseen category encodes as all zeros"
    assert {"when_year", "when_month", "when_dayofweek"} <= set(out.columns)
    assert not out.isna().any().any()


def test_binary_metrics_at_a_threshold() -> None:
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    scores = classification_metrics(np.array([0, 1, 1, 0]), proba, np.array([0, 1]), threshold=0.5)
    assert scores["accuracy"] == 0.5 and scores["precision"] == 0.5 and scores["recall"] == 0.5
    assert scores["roc_auc"] == 0.75
    assert set(scores) == {"accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc", "log_loss"}


def test_float32_probabilities_of_a_linear_model_score_without_a_warning() -> None:
    """LogisticRegression on float32 features (what the featurizer emits) returns float32
    probabilities; evaluate casts them to float64 (JSON), and log_loss then warned "The y_prob
    values do not sum to one" on every evaluation: the float32 rounding stays in the sum."""
    import warnings

    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 30)).astype("float32")
    y = (X[:, 0] + rng.normal(size=2000) > 0).astype(int)
    model = LogisticRegression(max_iter=1000).fit(X, y)
    proba = model.predict_proba(X)
    assert proba.dtype == np.float32
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for given in (proba, proba.astype("float64")):  # as the tune objective and evaluate pass them
            scores = classification_metrics(y, given, model.classes_, threshold=0.5)
    assert 0 < scores["log_loss"] < 1


def test_regression_metrics() -> None:
    scores = regression_metrics(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 5.0]))
    assert scores["mae"] == pytest.approx(2 / 3, abs=1e-6) and scores["rmse"] == pytest.approx(np.sqrt(4 / 3), abs=1e-6)


def test_importance_is_normalised_and_sorted() -> None:
    class Model:
        feature_importances_ = np.array([1.0, 3.0])

    frame = feature_importance(Model(), pd.DataFrame({"a": [0.0], "b": [1.0]}), None, seed=0, top_k=5)
    assert frame.to_dict("list") == {"feature": ["b", "a"], "importance": [0.75, 0.25]}
