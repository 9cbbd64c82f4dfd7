"""Nested estimators in YAML: ensembles of named recipes, an inner recipe, ranges at any depth,
and optional libraries that name their extra."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.ensemble import RandomForestClassifier, StackingClassifier, VotingClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.multioutput import MultiOutputRegressor

from mmp.core.config import ModelConfig
from mmp.core.errors import MMPError
from mmp.modeling.recipe import SearchRange, build_estimator, find_ranges

CONF = Path(__file__).resolve().parents[2] / "conf" / "model"


def shipped(name: str) -> ModelConfig:
    return ModelConfig(**yaml.safe_load((CONF / f"{name}.yaml").read_text()))


def classification_data(n: int = 120) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(n, 4)), columns=list("abcd")).astype("float32")
    return X, pd.Series((X["a"] + rng.normal(scale=0.5, size=n) > 0).astype(int))


def test_voting_classifier_from_named_recipes() -> None:
    model = build_estimator(shipped("voting"), seed=7)
    assert isinstance(model, VotingClassifier) and model.voting == "soft"
    names = [name for name, _ in model.estimators]
    assert names == ["logreg", "forest"]
    forest = dict(model.estimators)["forest"]
    assert isinstance(forest, RandomForestClassifier) and forest.max_depth == 8 and forest.random_state == 7
    X, y = classification_data()
    assert model.fit(X, y).predict_proba(X).shape == (120, 2)


def test_stacking_classifier_with_a_final_estimator_recipe() -> None:
    model = build_estimator(shipped("stacking"), seed=0)
    assert isinstance(model, StackingClassifier) and isinstance(model.final_estimator, LogisticRegression)
    assert [n for n, _ in model.estimators] == ["lgbm", "forest"]
    X, y = classification_data()
    assert model.set_params(lgbm__n_estimators=10, forest__n_estimators=10).fit(X, y).score(X, y) > 0.7


def test_multi_output_regressor_with_an_inner_recipe() -> None:
    spec = ModelConfig(
        class_path="sklearn.multioutput.MultiOutputRegressor",
        hyperparameters={"estimator": {"class_path": "sklearn.linear_model.Ridge", "hyperparameters": {"alpha": 0.5}}},
    )
    model = build_estimator(spec, seed=0)
    assert isinstance(model, MultiOutputRegressor) and isinstance(model.estimator, Ridge) and model.estimator.alpha == 0.5
    X, _ = classification_data()
    Y = np.column_stack([X["a"] * 2, X["b"] - 1])
    assert model.fit(X, Y).predict(X).shape == (120, 2)


def test_ranges_at_any_depth_are_found_and_chosen() -> None:
    spec = shipped("stacking")
    ranges = find_ranges(spec.hyperparameters)
    assert set(ranges) == {"estimators.0.num_leaves", "final_estimator.C"}
    picked: dict[str, Any] = {}

    def chooser(name: str, search: SearchRange) -> Any:
        picked[name] = search.high
        return search.high

    model = build_estimator(spec, seed=0, chooser=chooser)
    assert picked == {"estimators.0.num_leaves": 64.0, "final_estimator.C": 10.0}
    assert dict(model.estimators)["lgbm"].num_leaves == 64 and model.final_estimator.C == 10.0


def test_unknown_nested_hyperparameter_is_rejected_before_training() -> None:
    spec = shipped("voting").model_copy(deep=True)
    spec.hyperparameters["estimators"][1]["hyperparameters"]["max_dept"] = 3
    with pytest.raises(MMPError, match=r"estimators\.1\.hyperparameters\.max_dept: RandomForestClassifier does not accept"):
        build_estimator(spec, seed=0)


@pytest.mark.parametrize("name", ["xgboost", "catboost"])
def test_optional_boosters_name_their_extra_when_missing(name: str) -> None:
    spec = shipped(name)
    try:
        model = build_estimator(spec, seed=0)
    except MMPError as err:
        assert f"pip install -e '.[{name}]'" in str(err)
        return
    X, y = classification_data()  # the extra is installed here: the recipe must train
    assert model.fit(X, y).predict_proba(X).shape == (120, 2)


def test_finding_building_and_validating_walk_the_recipe_alike() -> None:
    """One walker: a range inside a plain list is found, chosen and validated under the same
    name, and a bad nested range has the same params key whoever reports it."""
    from mmp.modeling.model_checks import recipe_problems

    spec = ModelConfig(
        class_path="sklearn.neural_network.MLPClassifier", hyperparameters={"hidden_layer_sizes": [{"type": "int", "low": 4, "high": 8}, 3]}
    )
    assert set(find_ranges(spec.hyperparameters)) == {"hidden_layer_sizes.0"}
    asked: list[str] = []
    model = build_estimator(spec, seed=0, chooser=lambda name, r: asked.append(name) or int(r.high))
    assert asked == ["hidden_layer_sizes.0"] and model.hidden_layer_sizes == [8, 3]

    bad = {"class_path": "sklearn.ensemble.StackingClassifier", "hyperparameters": {"estimators": [
        {"name": "lr", "class_path": "sklearn.linear_model.LogisticRegression", "hyperparameters": {"C": {"type": "float", "low": 9, "high": 1}}},
    ]}}  # fmt: skip
    key = "model.hyperparameters.estimators.0.hyperparameters.C"
    with pytest.raises(MMPError) as found:
        find_ranges(bad["hyperparameters"])
    with pytest.raises(MMPError) as built:
        build_estimator(ModelConfig(**bad), seed=0)
    validated = recipe_problems(bad, "model")
    assert [found.value.where, built.value.where, *(e.where for e in validated)] == [key, key, key]
