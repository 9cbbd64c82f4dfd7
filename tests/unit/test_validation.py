"""One test per recipe/data validation error: each names its key and the fix, and all problems
are reported at once."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mmp.core.config import DataConfig, FeaturesConfig
from mmp.core.errors import MMPError
from mmp.pipeline.checks import config_problems, data_problems, validate

BASE: dict[str, Any] = {
    "seed": 1,
    "data": {"source_uri": "data.csv", "target_col": "y", "task_type": "binary", "id_cols": ["id"]},
    "features": {},
    "model": {"class_path": "sklearn.linear_model.LogisticRegression", "hyperparameters": {"C": 1.0}},
}


def recipe(**sections: Any) -> dict[str, Any]:
    raw = copy.deepcopy(BASE)
    for name, value in sections.items():
        if isinstance(value, dict) and isinstance(raw.get(name), dict):
            raw[name].update(value)
        else:
            raw[name] = value
    return raw


def problems(raw: dict[str, Any]) -> dict[str, str]:
    """``{key: message}`` of every config problem."""
    return {e.where: str(e) for e in config_problems(raw)}


def frame(n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"id": range(n), "x": rng.normal(size=n), "colour": rng.choice(["red", "blue"], size=n), "y": np.arange(n) % 2})


def test_valid_recipe_has_no_problems() -> None:
    assert config_problems(recipe()) == []
    assert data_problems(frame(), DataConfig(**BASE["data"]), FeaturesConfig()) == []


def test_unknown_key_lists_allowed_keys() -> None:
    found = problems(recipe(data={"target": "y"}))
    assert "unknown key" in found["data.target"] and "target_col" in found["data.target"]


def test_wrong_type() -> None:
    assert "valid integer" in problems(recipe(data={"rows": "many"}))["data.rows"]


def test_value_outside_allowed_literals() -> None:
    msg = problems(recipe(features={"numeric": {"scale": "weird"}}))["features.numeric.scale"]
    assert "'standard', 'minmax', 'robust' or 'none'" in msg


def test_missing_required_key() -> None:
    raw = recipe()
    del raw["model"]["class_path"]
    assert "required key is missing" in problems(raw)["model.class_path"]


def test_empty_search_range() -> None:
    msg = problems(recipe(model={"hyperparameters": {"C": {"type": "float", "low": 10, "high": 1}}}))["model.hyperparameters.C"]
    assert "low must be <= high" in msg


def test_categorical_range_needs_choices() -> None:
    msg = problems(recipe(model={"hyperparameters": {"solver": {"type": "categorical"}}}))["model.hyperparameters.solver"]
    assert "non-empty `choices`" in msg


def test_log_range_must_be_positive() -> None:
    msg = problems(recipe(model={"hyperparameters": {"C": {"type": "float", "low": 0, "high": 1, "log": True}}}))["model.hyperparameters.C"]
    assert "log range must be > 0" in msg


def test_unimportable_module() -> None:
    assert "cannot import module 'nosuchlib'" in problems(recipe(model={"class_path": "nosuchlib.Model"}))["model.class_path"]


def test_missing_class_lists_the_module_classes() -> None:
    msg = problems(recipe(model={"class_path": "sklearn.linear_model.LogisticRegresion", "hyperparameters": {}}))["model.class_path"]
    assert "has no class 'LogisticRegresion'" in msg and "LogisticRegression" in msg


@pytest.mark.parametrize("lib", ["xgboost", "catboost"])
def test_optional_library_names_its_extra(lib: str) -> None:
    pytest.importorskip("sklearn")
    try:
        __import__(lib)
        pytest.skip(f"{lib} is installed here; the hint is for machines without it")
    except ImportError:
        pass
    msg = problems(recipe(model={"class_path": f"{lib}.Model", "hyperparameters": {}}))["model.class_path"]
    assert f"pip install -e '.[{lib}]'" in msg


def test_unknown_hyperparameter_lists_accepted_names() -> None:
    msg = problems(recipe(model={"hyperparameters": {"C": 1.0, "n_estimators": 3}}))["model.hyperparameters.n_estimators"]
    assert "does not accept" in msg and "max_iter" in msg


def test_misspelt_lightgbm_hyperparameter_names_the_closest_and_points_to_the_list() -> None:
    raw = recipe(model={"class_path": "lightgbm.LGBMClassifier", "hyperparameters": {"n_estimatrs": 5}})
    msg = problems(raw)["model.hyperparameters.n_estimatrs"]
    assert "did you mean n_estimators" in msg and "https://lightgbm.readthedocs.io/" in msg
    assert len(msg) < 300, msg  # not every alias LightGBM knows


def test_misspelt_sklearn_hyperparameter_names_the_closest() -> None:
    assert "did you mean max_iter?" in problems(recipe(model={"hyperparameters": {"max_itr": 5}}))["model.hyperparameters.max_itr"]


LGBM = "lightgbm.LGBMClassifier"
FOREST = "sklearn.ensemble.RandomForestClassifier"


@pytest.mark.parametrize(
    ("class_path", "name", "value", "expected"),
    [
        (LGBM, "n_estimators", "abc", "model.hyperparameters.n_estimators: 'abc' is not a valid value for LGBMClassifier (allowed: int)"),
        (LGBM, "learning_rate", "fast", "'fast' is not a valid value for LGBMClassifier (allowed: float)"),
        (FOREST, "n_estimators", "abc", "'abc' is not a valid value for RandomForestClassifier (allowed: an int in the range [1, inf))"),
        (FOREST, "criterion", "foo", "'foo' is not a valid value for RandomForestClassifier (allowed: a str among {"),
        (FOREST, "max_features", {"type": "categorical", "choices": ["sqrt", "most"]}, "choice 'most' is not a valid value"),
        (FOREST, "min_samples_leaf", {"type": "int", "low": 0, "high": 5}, "range low 0 is not a valid value"),
        (LGBM, "num_leaves", {"type": "int", "low": 8, "high": 64, "default": "many"}, "default 'many' is not a valid value"),
    ],
)
def test_hyperparameter_value_against_the_estimators_own_rules(class_path: str, name: str, value: Any, expected: str) -> None:
    found = [str(e) for e in config_problems(recipe(model={"class_path": class_path, "hyperparameters": {name: value}}))]
    assert len(found) == 1 and expected in found[0], found  # one line: the key, the value, what is allowed


def test_valid_hyperparameter_values_pass() -> None:
    values = {"n_estimators": 10, "criterion": "entropy", "max_features": {"type": "categorical", "choices": ["sqrt", 0.5]}, "n_jobs": None}
    assert config_problems(recipe(model={"class_path": FOREST, "hyperparameters": values})) == []
    values = {"n_estimators": 10, "learning_rate": 1, "class_weight": {0: 1.0, 1: 2.0}, "min_data_in_leaf": 5}
    assert config_problems(recipe(model={"class_path": LGBM, "hyperparameters": values})) == []


def test_hyperparameter_value_in_a_nested_recipe() -> None:
    inner = [{"name": "lr", "class_path": "sklearn.linear_model.LogisticRegression", "hyperparameters": {"C": -1.0}}]
    raw = recipe(model={"class_path": "sklearn.ensemble.VotingClassifier", "hyperparameters": {"estimators": inner, "voting": "loud"}})
    found = problems(raw)
    assert "-1.0 is not a valid value for LogisticRegression" in found["model.hyperparameters.estimators.0.hyperparameters.C"]
    assert "'loud' is not a valid value for VotingClassifier" in found["model.hyperparameters.voting"]


def test_unknown_hyperparameter_in_a_nested_recipe() -> None:
    inner = [{"name": "lr", "class_path": "sklearn.linear_model.LogisticRegression", "hyperparameters": {"depth": 3}}]
    raw = recipe(model={"class_path": "sklearn.ensemble.VotingClassifier", "hyperparameters": {"estimators": inner}})
    assert "does not accept" in problems(raw)["model.hyperparameters.estimators.0.hyperparameters.depth"]


def test_range_error_in_a_nested_recipe() -> None:
    inner = {"class_path": "sklearn.linear_model.Ridge", "hyperparameters": {"alpha": {"type": "int", "low": 5}}}
    raw = recipe(
        data={"task_type": "regression"},
        model={"class_path": "sklearn.multioutput.MultiOutputRegressor", "hyperparameters": {"estimator": inner}},
    )
    assert "needs both `low` and `high`" in problems(raw)["model.hyperparameters.estimator.hyperparameters.alpha"]


def test_classifier_for_a_regression_task() -> None:
    msg = problems(recipe(data={"task_type": "regression"}))["model.class_path"]
    assert "is a classifier but data.task_type is regression" in msg and "lightgbm_regressor" in msg


def test_regressor_for_a_classification_task() -> None:
    msg = problems(recipe(model={"class_path": "sklearn.linear_model.Ridge", "hyperparameters": {}}))["model.class_path"]
    assert "is a regressor but data.task_type is binary" in msg


def test_target_list_needs_regression() -> None:
    assert "multi-output regression" in problems(recipe(data={"target_col": ["a", "b"]}))["data.target_col"]


def test_target_encoding_needs_a_single_target() -> None:
    raw = recipe(data={"target_col": ["a", "b"], "task_type": "regression"}, features={"categorical": {"encode": "target"}})
    raw["model"] = {"class_path": "sklearn.linear_model.Ridge"}
    assert "single target" in problems(raw)["features.categorical.encode"]


def test_kbest_needs_k() -> None:
    assert "needs selection.k" in problems(recipe(features={"selection": {"method": "kbest"}}))["features"]


def test_column_listed_under_two_kinds() -> None:
    raw = recipe(features={"numeric": {"columns": ["x"]}, "categorical": {"columns": ["x"]}})
    assert "more than one of numeric/categorical/date" in problems(raw)["features"]


def test_id_or_target_listed_as_feature() -> None:
    assert "must not be listed as features" in problems(recipe(features={"numeric": {"columns": ["x", "id", "y"]}}))["features"]


def test_every_config_problem_is_reported_at_once() -> None:
    raw = recipe(data={"rows": -1}, features={"numeric": {"scale": "weird"}}, model={"hyperparameters": {"bogus": 1}})
    assert {"data.rows", "features.numeric.scale", "model.hyperparameters.bogus"} <= set(problems(raw))
    with pytest.raises(MMPError) as err:
        validate(raw)
    assert len(err.value.errors) >= 3


# ---- the data source against the recipe


def data_errors(df: pd.DataFrame, features: dict[str, Any] | None = None, **data: Any) -> dict[str, str]:
    cfg = DataConfig(**(BASE["data"] | data))
    return {e.where: str(e) for e in data_problems(df, cfg, FeaturesConfig(**(features or {})))}


def test_target_column_missing_from_the_source() -> None:
    msg = data_errors(frame(), target_col="label")["data.target_col"]
    assert "column 'label' not found" in msg and "colour" in msg


def test_id_column_missing_from_the_source() -> None:
    assert "not found" in data_errors(frame(), id_cols=["customer"])["data.id_cols"]


def test_contract_violation_names_the_column() -> None:
    contract = {"columns": {"x": {"dtype": "float", "min": 5}}}
    assert "must be >= 5" in data_errors(frame(), contract=contract)["column 'x'"]


def test_binary_task_with_three_classes() -> None:
    df = frame().assign(y=lambda d: np.arange(len(d)) % 3)
    assert "multiclass" in data_errors(df)["data.task_type"]


def test_single_class_target() -> None:
    assert "single class" in data_errors(frame().assign(y=1))["data.target_col"]


def test_regression_on_a_text_target() -> None:
    df = frame().assign(y=lambda d: d.colour)
    assert "numeric target" in data_errors(df, task_type="regression")["data.task_type"]


def test_listed_feature_column_missing_from_the_data() -> None:
    assert "['weight'] are not in the data" in data_errors(frame(), {"numeric": {"columns": ["x", "weight"]}})["features.numeric.columns"]


def test_sql_identifier_outside_its_allowlist() -> None:
    raw = recipe(data={"identifiers": {"table": "users; --"}, "allowed_identifiers": {"table": ["loans"]}})
    assert "not an allowed identifier" in problems(raw)["data.identifiers.table"]


def test_tune_metric_must_belong_to_the_task() -> None:
    msg = problems(recipe(tune={"metric": "rmse"}))["tune.metric"]
    assert "'rmse' is not a metric the evaluator produces for a binary task" in msg and "roc_auc" in msg
