"""The compiled numpy featurizer equals sklearn's output, and anything it does not know falls
back to the sklearn path loudly (logged once, reported by ``fast_path``)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from lightgbm import LGBMClassifier, LGBMRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import QuantileTransformer

from mmp.core.config import FeaturesConfig
from mmp.data.schema import InputSchema
from mmp.data.synthetic import credit_default
from mmp.inference.compiled import NotCompilable, compile_featurizer
from mmp.inference.fast_scorer import FastScorer, frame_columns
from mmp.inference.scorer import Scorer
from mmp.modeling.features import build_featurizer, select_columns, transform

EXCLUDED = ["customer_id", "application_date", "default"]


def fitted(cfg: dict, rows: int = 600, seed: int = 3) -> tuple[object, pd.DataFrame, pd.DataFrame]:
    train, test = credit_default(rows, seed), credit_default(300, seed + 1)
    features = FeaturesConfig.model_validate(cfg)
    featurizer = build_featurizer(features, select_columns(train, features, EXCLUDED))
    featurizer.fit(train.drop(columns=["default"]))
    test.loc[0, "region"] = "atlantis"  # an unseen category: handle_unknown must match too
    return featurizer, train, test


CONFIGS = [
    {},
    {"numeric": {"impute": "mean", "scale": "minmax"}, "categorical": {"encode": "ordinal"}},
    {"numeric": {"impute": "most_frequent", "scale": "robust"}, "categorical": {"impute": "constant", "min_frequency": 0.2}},
    {"numeric": {"scale": "none"}, "date": {"parts": ["year", "month", "day", "dayofweek", "dayofyear", "hour", "quarter"]}},
]


@pytest.mark.parametrize("cfg", CONFIGS)
def test_compiled_featurizer_equals_sklearn(cfg: dict) -> None:
    featurizer, _, test = fitted(cfg)
    compiled = compile_featurizer(featurizer)
    want = transform(featurizer, test)
    got = compiled.transform({c: test[c].to_numpy() for c in test.columns})
    assert compiled.feature_names == list(want.columns)
    np.testing.assert_array_equal(got, want.to_numpy())
    # one record as the server sends it: python lists with None for missing values
    row = test.iloc[[7]].astype(object).where(test.iloc[[7]].notna(), None)
    one = compiled.transform({c: row[c].tolist() for c in row.columns})
    np.testing.assert_array_equal(one, want.to_numpy()[7:8])


def test_compiled_featurizer_applies_the_fitted_selection() -> None:
    train, test = credit_default(600, 3), credit_default(300, 4)
    features = FeaturesConfig.model_validate({"selection": {"method": "kbest", "k": 6}})
    featurizer = build_featurizer(features, select_columns(train, features, EXCLUDED))
    featurizer.fit(train.drop(columns=["default"]), train["default"])
    compiled = compile_featurizer(featurizer)
    want = transform(featurizer, test)
    assert compiled.feature_names == list(want.columns) and len(want.columns) == 6
    np.testing.assert_array_equal(compiled.transform({c: test[c].to_numpy() for c in test.columns}), want.to_numpy())


def schema_for(frame: pd.DataFrame, task: str, targets: list[str]) -> InputSchema:
    from mmp.core.config import DataConfig
    from mmp.data.schema import infer_schema

    cfg = DataConfig(source_uri="x", target_col=targets[0], task_type=task, id_cols=["customer_id"], time_col="application_date")
    return infer_schema(frame, cfg)


@pytest.mark.parametrize("model", [LGBMClassifier(n_estimators=20, verbose=-1), LogisticRegression(max_iter=500), LGBMRegressor(n_estimators=20, verbose=-1)])
def test_fast_scorer_equals_the_shared_scoring_path(model: object) -> None:
    featurizer, train, test = fitted({})
    task = "regression" if isinstance(model, LGBMRegressor) else "binary"
    target = "score" if task == "regression" else "default"
    if task == "regression":
        train = train.drop(columns=["default"]).assign(score=train["loan_amount"] / 1000)  # a target the featurizer never saw
    model.fit(transform(featurizer, train), train[target])
    schema = schema_for(train, task, [target])
    scorer = Scorer(featurizer, model, schema, {"threshold": 0.3})
    fast = FastScorer(scorer)
    assert fast.fast_path == "numpy"
    want = scorer.predict(test)
    got = fast.predict_frame(test)
    assert list(got.columns) == list(want.columns) == fast.output_columns
    for col in want.columns:
        np.testing.assert_allclose(got[col].to_numpy(dtype=float), want[col].to_numpy(dtype=float), rtol=1e-12, atol=1e-12)
    assert set(frame_columns(test, schema)) == set(schema.feature_names)


def test_unknown_transformer_falls_back_to_sklearn_and_says_so_once(caplog: pytest.LogCaptureFixture) -> None:
    featurizer, train, test = fitted({})
    numeric = featurizer.named_steps["columns"].named_transformers_["numeric"]
    numeric.steps[1] = ("scale", QuantileTransformer(n_quantiles=50).fit(numeric.steps[0][1].transform(train[numeric.feature_names_in_])))
    with pytest.raises(NotCompilable, match="QuantileTransformer"):
        compile_featurizer(featurizer)
    model = LGBMClassifier(n_estimators=10, verbose=-1).fit(transform(featurizer, train), train["default"])
    scorer = Scorer(featurizer, model, schema_for(train, "binary", ["default"]), {})
    with caplog.at_level(logging.WARNING, logger="mmp.inference.scorer"):
        fast = FastScorer(scorer)
        fast.predict_frame(test)
        fast.predict_frame(test)
    assert fast.fast_path.startswith("sklearn (QuantileTransformer")
    assert [r.getMessage() for r in caplog.records].count(caplog.records[0].getMessage()) == 1
    assert "using the sklearn featurizer" in caplog.records[0].getMessage()
    np.testing.assert_allclose(fast.predict_frame(test)["proba_1"], scorer.predict(test)["proba_1"], rtol=1e-12)
