"""The compiled numpy featurizer equals sklearn's output; the one Scorer gives the same answers on
either featurizer backend, and a featurizer the compiler does not know falls back to the sklearn
backend loudly (logged once, reported by ``Scorer.backend``)."""

from __future__ import annotations

import logging
import pickle
import sys
from typing import Any

import numpy as np
import pandas as pd
import pytest
from lightgbm import LGBMClassifier, LGBMRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import QuantileTransformer

from mmp.core.config import FeaturesConfig
from mmp.core.errors import MMPError
from mmp.data.schema import InputSchema
from mmp.data.synthetic import credit_default
from mmp.inference.compiled import NotCompilable, compile_featurizer
from mmp.inference.scorer import Scorer, typed_columns
from mmp.modeling.features import FastTransform, build_featurizer, select_columns, transform

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
    {"categorical": {"encode": "native", "min_frequency": 0.2}},
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


def sklearn_reference(scorer: Scorer, frame: pd.DataFrame) -> pd.DataFrame:
    """The answer written out by hand with the sklearn featurizer and the estimator's own API."""
    X = transform(scorer.featurizer, frame)
    if scorer.task == "regression":
        return pd.DataFrame({"prediction": scorer.model.predict(X)}, index=frame.index)
    proba = scorer.model.predict_proba(X)
    classes = scorer.model.classes_
    positive = proba[:, 1] >= scorer.threshold
    out = {"prediction": np.where(positive, classes[1], classes[0])}
    return pd.DataFrame(out | {f"proba_{c}": proba[:, i] for i, c in enumerate(classes)}, index=frame.index)


@pytest.mark.parametrize(
    "model", [LGBMClassifier(n_estimators=20, verbose=-1), LogisticRegression(max_iter=500), LGBMRegressor(n_estimators=20, verbose=-1)]
)
def test_scorer_equals_the_sklearn_reference_on_both_entry_points(model: object) -> None:
    featurizer, train, test = fitted({})
    task = "regression" if isinstance(model, LGBMRegressor) else "binary"
    target = "score" if task == "regression" else "default"
    if task == "regression":
        train = train.drop(columns=["default"]).assign(score=train["loan_amount"] / 1000)  # a target the featurizer never saw
    test = test[test["region"] != "atlantis"]  # the reference cannot take an unseen category
    model.fit(transform(featurizer, train), train[target])
    schema = schema_for(train, task, [target])
    scorer = Scorer(featurizer, model, schema, {"threshold": 0.3})
    assert scorer.backend == "numpy"
    want = sklearn_reference(scorer, test)
    got = scorer.predict(test)
    assert list(got.columns) == list(want.columns) == scorer.output_columns
    assert got.index.equals(test.index)
    columns = scorer.predict_columns(typed_columns(test, schema), len(test))
    assert list(columns) == scorer.output_columns
    for col in want.columns:
        np.testing.assert_allclose(got[col].to_numpy(dtype=float), want[col].to_numpy(dtype=float), rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(columns[col], got[col].to_numpy())
    assert set(typed_columns(test, schema)) == set(schema.feature_names)


def test_native_categories_split_in_lightgbm_and_score_alike_on_both_backends() -> None:
    """``encode: native``: LightGBM fits category codes as categories (``==`` splits), and the
    compiled featurizer feeds the booster the same codes as sklearn, an unseen category (-1,
    missing to LightGBM) included."""
    from mmp.modeling.training import fit_model

    featurizer, train, test = fitted({"categorical": {"encode": "native"}})
    X = transform(featurizer, train)
    assert X["region"].dtype.kind == "i" and X["age"].dtype == np.float32
    model = fit_model(LGBMClassifier(n_estimators=20, verbose=-1, min_data_per_group=5, cat_smooth=1), X, train["default"])
    splits = [node for tree in model.booster_.dump_model()["tree_info"] for node in _nodes(tree["tree_structure"])]
    assert any(node["decision_type"] == "==" for node in splits), "no categorical split"
    scorer = Scorer(featurizer, model, schema_for(train, "binary", ["default"]), {})
    assert scorer.backend == "numpy" and "atlantis" in set(test["region"])
    np.testing.assert_allclose(scorer.predict(test)["proba_1"], sklearn_reference(scorer, test)["proba_1"], rtol=1e-12)


def _nodes(node: dict) -> list[dict]:
    if "split_index" not in node:
        return []
    return [node, *_nodes(node["left_child"]), *_nodes(node["right_child"])]


def test_missing_feature_columns_are_named() -> None:
    featurizer, train, test = fitted({})
    model = LGBMClassifier(n_estimators=5, verbose=-1).fit(transform(featurizer, train), train["default"])
    scorer = Scorer(featurizer, model, schema_for(train, "binary", ["default"]), {})
    with pytest.raises(MMPError, match=r"input: missing required column\(s\) \['age', 'region'\]"):
        scorer.predict(test.drop(columns=["age", "region"]))


def test_unknown_transformer_falls_back_to_sklearn_and_says_so_once(caplog: pytest.LogCaptureFixture) -> None:
    featurizer, train, test = fitted({})
    numeric = featurizer.named_steps["columns"].named_transformers_["numeric"]
    numeric.steps[1] = ("scale", QuantileTransformer(n_quantiles=50).fit(numeric.steps[0][1].transform(train[numeric.feature_names_in_])))
    with pytest.raises(NotCompilable, match="QuantileTransformer"):
        compile_featurizer(featurizer)
    model = LGBMClassifier(n_estimators=10, verbose=-1).fit(transform(featurizer, train), train["default"])
    schema = schema_for(train, "binary", ["default"])
    with caplog.at_level(logging.WARNING, logger="mmp.inference.scorer"):
        scorer = Scorer(featurizer, model, schema, {})
        scorer.predict(test)
        scorer.predict_columns(typed_columns(test, schema), len(test))
    assert scorer.backend.startswith("sklearn (QuantileTransformer")
    assert [r.getMessage() for r in caplog.records].count(caplog.records[0].getMessage()) == 1
    assert "using the sklearn featurizer" in caplog.records[0].getMessage()
    test = test[test["region"] != "atlantis"]
    np.testing.assert_allclose(scorer.predict(test)["proba_1"], sklearn_reference(scorer, test)["proba_1"], rtol=1e-12)
    # one HTTP record (plain lists, None for missing) goes through the same sklearn backend
    row = test.iloc[[3]].astype(object).where(test.iloc[[3]].notna(), None)
    one = scorer.predict_columns({c: row[c].tolist() for c in scorer.features}, 1)
    assert one["proba_1"][0] == pytest.approx(scorer.predict(test.iloc[[3]])["proba_1"].iloc[0], abs=1e-12)


def test_one_record_on_the_numpy_backend_builds_no_frame_and_calls_no_sklearn(monkeypatch: pytest.MonkeyPatch) -> None:
    """The serving hot path: compiled featurizer straight into LightGBM's booster."""
    featurizer, train, test = fitted({})
    model = LGBMClassifier(n_estimators=10, verbose=-1).fit(transform(featurizer, train), train["default"])
    scorer = Scorer(featurizer, model, schema_for(train, "binary", ["default"]), {})
    want = scorer.predict(test.iloc[[5]])["proba_1"].iloc[0]
    row = test.iloc[[5]].astype(object).where(test.iloc[[5]].notna(), None)
    columns = {c: row[c].tolist() for c in scorer.features}

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("the one-record path must not build a DataFrame or call sklearn")

    monkeypatch.setattr(featurizer, "transform", forbidden)
    monkeypatch.setattr(model, "predict_proba", forbidden)
    monkeypatch.setattr(pd, "DataFrame", forbidden)
    out = scorer.predict_columns(columns, 1)
    monkeypatch.undo()
    assert out["proba_1"][0] == want


def test_packages_pickled_under_the_pre_relayering_module_names_still_load(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Packages built before the re-layering name ``mmp.features`` and ``mmp.models.*`` in their
    pickles. They load (aliases only while loading), and score exactly as before."""
    import joblib

    from mmp.core.io import write_json
    from mmp.inference.legacy import load_legacy
    from mmp.modeling import features as features_module
    from mmp.modeling.models import mlp as mlp_module

    featurizer, train, test = fitted({"date": {"parts": ["year", "month"]}})
    model = LGBMClassifier(n_estimators=10, verbose=-1).fit(transform(featurizer, train), train["default"])
    schema = schema_for(train, "binary", ["default"])
    want = Scorer(featurizer, model, schema, {}).predict(test)
    with monkeypatch.context() as old:  # pickle as the flat layout did
        for cls in (features_module.AsText, features_module.DateParts):
            old.setattr(cls, "__module__", "mmp.features")
        old.setattr(mlp_module.MLPClassifier, "__module__", "mmp.models.mlp")
        old.setitem(sys.modules, "mmp.features", features_module)
        old.setitem(sys.modules, "mmp.models.mlp", mlp_module)
        joblib.dump(featurizer, tmp_path / "featurizer.joblib")
        joblib.dump(mlp_module.MLPClassifier(), tmp_path / "mlp.joblib")
    assert b"mmp.features" in (tmp_path / "featurizer.joblib").read_bytes()
    assert b"mmp.models.mlp" in (tmp_path / "mlp.joblib").read_bytes()
    with pytest.raises(ModuleNotFoundError):
        joblib.load(tmp_path / "featurizer.joblib")
    joblib.dump(model, tmp_path / "model.joblib")
    write_json(tmp_path / "schema.json", schema.to_json())
    write_json(tmp_path / "metadata.json", {})
    names = {"featurizer": "featurizer.joblib", "model": "model.joblib", "schema": "schema.json", "metadata": "metadata.json"}
    scorer = Scorer.load({k: tmp_path / v for k, v in names.items()})
    pd.testing.assert_frame_equal(scorer.predict(test), want)
    assert scorer.backend == "numpy"
    assert type(load_legacy(lambda: joblib.load(tmp_path / "mlp.joblib"))) is mlp_module.MLPClassifier
    assert not {"mmp.features", "mmp.models", "mmp.models.mlp"} & set(sys.modules), "aliases live only while loading"


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_the_fast_path_equals_the_reference_path_row_by_row(task: str) -> None:
    """Serving's fast path (one record as HTTP sends it: plain lists, None for missing, through
    the compiled featurizer and LightGBM's single-row call) and the pyfunc's (a frame) give the
    reference's answer (the sklearn featurizer and the estimator's own API) on 300 rows with
    missing values and unseen categories."""
    import warnings

    featurizer, train, test = fitted({})
    test.loc[[1, 2, 3], "income"] = np.nan
    test.loc[[2, 4, 5], "employment_type"] = None
    test.loc[[6], "first_credit_date"] = pd.NaT
    test.loc[[7, 8], "home_ownership"] = "castle"  # unseen, as region 'atlantis' in row 0
    target = {"binary": "default", "multiclass": "tier", "regression": "score"}[task]
    targets = {"tier": np.digitize(train["credit_score"], [620, 700]), "score": train["loan_amount"] / 1000}
    if task != "binary":  # a target the featurizer never saw, in place of "default"
        train = train.drop(columns=["default"]).assign(**{target: targets[target]})
    model = LGBMRegressor if task == "regression" else LGBMClassifier
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn's notes on unseen categories and feature names
        fitted_model = model(n_estimators=40, verbose=-1).fit(transform(featurizer, train), train[target])
        scorer = Scorer(featurizer, fitted_model, schema_for(train, task, [target]), {})
        assert scorer._single is not None  # the single-row call is what is under test
        want = sklearn_reference(scorer, test) if task != "multiclass" else None
        proba = fitted_model.predict(transform(featurizer, test)) if task == "regression" else None
        if task != "regression":
            proba = fitted_model.predict_proba(transform(featurizer, test))
    records = test.astype(object).where(test.notna(), None)
    rows = [scorer.predict_columns({c: [records[c].iloc[i]] for c in scorer.features}, 1) for i in range(len(test))]
    frame = scorer.predict(test)
    for j, col in enumerate(scorer.output_columns[1:] if task != "regression" else scorer.output_columns):
        one_by_one = np.concatenate([r[col] for r in rows])
        expected = proba[:, j] if task != "regression" else proba
        np.testing.assert_allclose(one_by_one, expected, rtol=0, atol=1e-12)
        np.testing.assert_array_equal(frame[col].to_numpy(), one_by_one)
    if want is not None:
        assert np.concatenate([r["prediction"] for r in rows]).tolist() == want["prediction"].tolist()


@pytest.mark.parametrize("cfg", CONFIGS)
def test_one_row_on_python_floats_equals_the_array_path_bit_for_bit(cfg: dict) -> None:
    """The one-row path (Python scalars, the hot path of serving and the pyfunc) against the
    numpy path on the same rows: typed numpy columns and HTTP's lists (None for missing), with
    missing values, an unseen category, dates before 1970 and a value beyond float32."""
    featurizer, _, test = fitted(cfg)
    test = test.head(60).copy()
    test.loc[[1, 2], "income"] = np.nan
    test.loc[[3], "income"] = 1e300  # inf in float32 on both paths
    test.loc[[4], "employment_type"] = None
    test.loc[[5], "first_credit_date"] = pd.NaT
    test.loc[[6], "first_credit_date"] = pd.Timestamp("1969-12-31 23:59:59.999999")
    compiled = compile_featurizer(featurizer)
    arrays = {c: test[c].to_numpy() for c in test.columns}
    want = compiled.transform(arrays)
    records = test.astype(object).where(test.notna(), None)
    for i in range(len(test)):
        from_arrays = compiled.transform_row({c: values[i : i + 1] for c, values in arrays.items()})
        from_lists = compiled.transform_row({c: [records[c].iloc[i]] for c in test.columns})
        # as a served record holds them (pydantic): plain datetimes, Python floats and ints
        from_served = compiled.transform_row({c: (served(records[c].iloc[i]),) for c in test.columns})
        np.testing.assert_array_equal(from_arrays, want[i : i + 1])
        np.testing.assert_array_equal(from_lists, want[i : i + 1])
        np.testing.assert_array_equal(from_served, want[i : i + 1])
        assert from_lists.dtype == np.float32 and from_lists.shape == (1, len(compiled.feature_names))


def served(value: object) -> object:
    """One value as the served record's model hands it on."""
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value.item() if isinstance(value, np.generic) else value


def test_typed_columns_read_without_series_equal_the_general_path() -> None:
    """Columns already of their declared kind are read straight from the frame (the pyfunc's
    one-row cost); others (numbers as text, tz-aware dates, object text) take the general path.
    Both hand the featurizer the same values."""
    from mmp.inference.scorer import _typed

    frame = credit_default(40, 5).drop(columns=["default"])
    schema = schema_for(credit_default(40, 5), "binary", ["default"])
    variants = {
        "plain": frame,
        "us dates": frame.assign(first_credit_date=frame["first_credit_date"].astype("datetime64[us]")),
        "text numbers": frame.assign(income=frame["income"].astype(str).where(frame.index % 3 > 0, "n/a")),
        "tz dates": frame.assign(first_credit_date=frame["first_credit_date"].dt.tz_localize("UTC")),
        "object text": frame.astype({"region": object}),
        "one row": frame.iloc[[7]],
    }
    for name, variant in variants.items():
        got = typed_columns(variant, schema)
        for col in schema.features:
            want = _typed(variant[col.name], col.dtype)
            assert type(got[col.name]) is type(want), (name, col.name)
            pd.testing.assert_series_equal(pd.Series(got[col.name]), pd.Series(want), obj=f"{name}: {col.name}")


def featurized(cfg: dict, fast: FastTransform | None = None) -> tuple[bytes, pd.DataFrame, pd.DataFrame]:
    """The featurize step on 1,500 train and 1,200 test rows (over LAYOUT_ROWS: the fast path
    runs), with missing values and an unseen category: the pickled featurizer and both splits."""
    from mmp.modeling.features import fit_transform

    train, test = credit_default(1500, 5), credit_default(1200, 6)
    for split in (train, test):
        split.loc[split.index[::7], "income"] = np.nan
        split.loc[split.index[::11], "region"] = None
    test.loc[test.index[1100], "region"] = "atlantis"
    features = FeaturesConfig.model_validate(cfg)
    featurizer = build_featurizer(features, select_columns(train, features, EXCLUDED))
    X_train = fit_transform(featurizer, train, train["default"], fast)
    return pickle.dumps(featurizer), X_train, transform(featurizer, test, fast)


@pytest.mark.parametrize("cfg", CONFIGS)
def test_featurize_by_the_compiled_featurizer_equals_scikit_learns(cfg: dict) -> None:
    """The featurize step transforms both splits by the compiled featurizer: the features (values,
    names, dtypes) and the fitted featurizer are scikit-learn's, byte for byte."""
    from mmp.pipeline.steps import compiled_transform

    calls: list[int] = []

    def counted(featurizer: Any, frame: pd.DataFrame) -> Any:
        calls.append(len(frame))
        return compiled_transform(featurizer, frame)

    slow, fast = featurized(cfg), featurized(cfg, counted)
    # The train split takes it where every block was fitted ahead (median imputers: see fit_transform).
    assert calls == ([1500, 1200] if cfg.get("numeric", {}).get("impute", "median") == "median" else [1200])
    assert fast[0] == slow[0]
    for mine, theirs in zip(fast[1:], slow[1:], strict=True):
        pd.testing.assert_frame_equal(mine, theirs, check_exact=True)


def test_a_fast_transform_that_disagrees_is_said_and_not_used(capsys: pytest.CaptureFixture[str]) -> None:
    slow = featurized({})
    wrong = lambda featurizer, frame: np.zeros((len(frame), slow[1].shape[1]), dtype=np.float32)  # noqa: E731
    _, X_train, X_test = featurized({}, wrong)
    pd.testing.assert_frame_equal(X_train, slow[1], check_exact=True)
    pd.testing.assert_frame_equal(X_test, slow[2], check_exact=True)
    assert capsys.readouterr().err.count("disagrees with scikit-learn's on the first rows") == 2
