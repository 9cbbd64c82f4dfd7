from __future__ import annotations

import pytest
from sklearn.ensemble import RandomForestClassifier

from mmp.core.config import ModelConfig
from mmp.core.errors import MMPError
from mmp.modeling.recipe import SearchRange, build_estimator, check_task, find_ranges


def spec(class_path: str, **hp: object) -> ModelConfig:
    return ModelConfig(class_path=class_path, hyperparameters=hp)


def test_fixed_values_and_ranges_resolve_to_documented_defaults() -> None:
    model = build_estimator(
        spec(
            "sklearn.ensemble.RandomForestClassifier",
            n_estimators=7,
            max_depth={"type": "int", "low": 3, "high": 20},
            max_features={"type": "categorical", "choices": ["sqrt", "log2"]},
            min_samples_leaf={"type": "int", "low": 1, "high": 9, "default": 4},
        ),
        seed=5,
    )
    assert isinstance(model, RandomForestClassifier)
    assert (model.n_estimators, model.max_depth, model.max_features, model.min_samples_leaf) == (7, 12, "sqrt", 4)
    assert model.random_state == 5, "the seed is injected when the recipe does not set random_state"


def test_log_range_resolves_to_geometric_midpoint() -> None:
    assert SearchRange(type="float", low=0.01, high=1.0, log=True).midpoint() == pytest.approx(0.1)


def test_unknown_hyperparameter_lists_accepted_names() -> None:
    with pytest.raises(MMPError) as err:
        build_estimator(spec("sklearn.linear_model.LogisticRegression", Cee=1.0), seed=0)
    assert err.value.where == "model.hyperparameters.Cee"
    assert "max_iter" in err.value.allowed


def test_lightgbm_accepts_its_native_parameters_but_not_typos() -> None:
    build_estimator(spec("lightgbm.LGBMClassifier", verbose=-1, min_data_in_leaf=5), seed=0)
    with pytest.raises(MMPError, match="n_estimator"):
        build_estimator(spec("lightgbm.LGBMClassifier", n_estimator=5), seed=0)


@pytest.mark.parametrize(
    ("class_path", "message"),
    [("sklearn.ensemble.NoSuchForest", "has no class 'NoSuchForest'"), ("nosuchpkg.Model", "cannot import module 'nosuchpkg'")],
)
def test_class_path_that_cannot_be_imported(class_path: str, message: str) -> None:
    with pytest.raises(MMPError, match=message) as err:
        build_estimator(spec(class_path), seed=0)
    assert err.value.where == "model.class_path"


def test_missing_optional_library_names_the_extra() -> None:
    with pytest.raises(MMPError) as err:
        build_estimator(spec("catboost.CatBoostClassifier"), seed=0)
    assert "pip install -e '.[catboost]'" in err.value.allowed


def test_nested_recipes_build_named_estimators() -> None:
    model = build_estimator(
        spec(
            "sklearn.ensemble.VotingClassifier",
            voting="soft",
            estimators=[
                {
                    "name": "lr",
                    "class_path": "sklearn.linear_model.LogisticRegression",
                    "hyperparameters": {"C": {"type": "float", "low": 0.1, "high": 10, "log": True}},
                },
                {"name": "rf", "class_path": "sklearn.ensemble.RandomForestClassifier", "hyperparameters": {"n_estimators": 5}},
            ],
        ),
        seed=1,
    )
    names = [name for name, _ in model.estimators]
    assert names == ["lr", "rf"]
    assert model.estimators[0][1].C == pytest.approx(1.0)
    assert set(
        find_ranges({"estimators": [{"class_path": "x.Y", "hyperparameters": {"C": {"type": "float", "low": 0.1, "high": 10}}}]})
    ) == {"estimators.0.C"}


@pytest.mark.parametrize(
    ("search", "message"),
    [
        ({"type": "int", "low": 9, "high": 3}, "low must be <= high"),
        ({"type": "float", "low": 0, "high": 1, "log": True}, "log range must be > 0"),
        ({"type": "categorical", "choices": []}, "non-empty `choices`"),
        ({"type": "int", "low": 1}, "needs both `low` and `high`"),
    ],
)
def test_bad_ranges_are_rejected_with_the_key(search: dict, message: str) -> None:
    with pytest.raises(MMPError, match=message) as err:
        find_ranges({"max_depth": search})
    assert str(err.value).startswith("model.hyperparameters.max_depth")


def test_classifier_for_regression_task_is_a_recipe_error() -> None:
    with pytest.raises(MMPError, match="is a classifier but data.task_type is regression"):
        check_task(RandomForestClassifier(), "regression")
