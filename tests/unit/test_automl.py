"""AutoML (tune.families): the study picks a model family, each trial searches only its
family's ranges, the winner's recipe and values reach train, and each family's best score is
reported. Small recipes in the workspace's own conf/model keep the study fast."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pandas as pd
import pytest
import yaml

from mmp.core.config import Params, parse
from mmp.core.errors import MMPError
from mmp.pipeline.stages import tune as tune_stage
from mmp.pipeline.steps import train
from mmp.tuning.families import FAMILY, read_families
from mmp.tuning.space import tuned_recipe
from tests.tuning_helpers import classification_frame, make_workspace, params_dict, stage_args

RECIPES = {
    "lightgbm": {
        "class_path": "lightgbm.LGBMClassifier",
        "hyperparameters": {
            "n_estimators": 20,
            "num_leaves": {"type": "int", "low": 4, "high": 16},
            "learning_rate": {"type": "float", "low": 0.01, "high": 0.3, "log": True},
            "n_jobs": 1,
            "verbose": -1,
        },
    },
    "random_forest": {
        "class_path": "sklearn.ensemble.RandomForestClassifier",
        "hyperparameters": {"n_estimators": 15, "max_depth": {"type": "int", "low": 2, "high": 8}, "n_jobs": 1},
    },
    "logistic_regression": {
        "class_path": "sklearn.linear_model.LogisticRegression",
        "hyperparameters": {"C": {"type": "float", "low": 0.01, "high": 10.0, "log": True}, "max_iter": 200},
    },
    "ridge": {"class_path": "sklearn.linear_model.Ridge", "hyperparameters": {"alpha": {"type": "float", "low": 0.1, "high": 10.0}}},
}


def automl_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **tune: object) -> Path:
    root = make_workspace(tmp_path, params_dict(**tune))
    for name, recipe in RECIPES.items():
        (root / "conf" / "model").mkdir(parents=True, exist_ok=True)
        (root / "conf" / "model" / f"{name}.yaml").write_text(yaml.safe_dump(recipe))
    monkeypatch.setenv("MMP_TUNE_STORAGE", f"sqlite:///{tmp_path / 'optuna.db'}")
    monkeypatch.chdir(root)  # conf/model is read from the checkout being run
    return root


def test_automl_picks_a_family_and_trains_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    families = ["lightgbm", "random_forest", "logistic_regression"]
    root = automl_workspace(tmp_path, monkeypatch, families=families, n_trials=6, pruner="median", sampler="random", cv={"folds": 2})
    tune_stage.main(stage_args(root))

    scores = json.loads((root / "metrics/tune.json").read_text())
    best = json.loads((root / "models/best_params.json").read_text())
    assert best[FAMILY] in families and best["model"] == RECIPES[best[FAMILY]]
    assert set(best["params"]) == {k.split(".", 1)[1] for k in scores["best_params"] if k != FAMILY}, "values under the recipe's own names"
    # The report: each family that ran has its best score, and the winner's is the study's best.
    table = scores["families"]
    assert set(table) <= set(families) and len(table) >= 2
    assert table[best[FAMILY]]["best_score"] == scores["best_score"]
    assert sum(r["n_complete"] + r["n_pruned"] for r in table.values()) == scores["n_trials"]
    assert "Best score per family" in (root / "metrics/plots/tune/dvc.yaml").read_text()

    # Conditional ranges never mix families: a trial holds `family` and that family's ranges only.
    trials = pd.read_csv(root / "metrics/tune/trials.csv")
    for _, t in trials.iterrows():
        chosen = {c.removeprefix("params_") for c in trials.columns if c.startswith("params_") and pd.notna(t[c])}
        assert FAMILY in chosen and all(c.startswith(f"{t['params_family']}.") for c in chosen - {FAMILY}), chosen

    # train builds the winner (not params.model) with the tuned values.
    params = parse(Params, params_dict(families=families))
    model = train(classification_frame(), params, best)
    assert f"{type(model).__module__}.{type(model).__name__}".startswith(RECIPES[best[FAMILY]]["class_path"].rsplit(".", 1)[0])
    assert type(model).__name__ == RECIPES[best[FAMILY]]["class_path"].rsplit(".", 1)[1]
    for name, value in best["params"].items():
        assert model.get_params()[name] == value
    spec, values, family = tuned_recipe(params.model, best)
    assert (spec.class_path, values, family) == (RECIPES[best[FAMILY]]["class_path"], best["params"], best[FAMILY])


def test_a_family_of_the_wrong_task_is_refused_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = automl_workspace(tmp_path, monkeypatch, families=["random_forest", "ridge"])
    with pytest.raises(MMPError) as err:
        tune_stage.main(stage_args(root))
    line = str(err.value)
    assert "\n" not in line and line.startswith("tune.families: family 'ridge' does not fit the task")
    assert "(allowed: lightgbm, logistic_regression, random_forest)" in line
    assert not (root / "models").exists(), "nothing written"


def test_unknown_family_names_the_known_recipes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    automl_workspace(tmp_path, monkeypatch)
    with pytest.raises(MMPError, match=r"tune.families\[1\]: no model recipe conf/model/xgb.yaml \(allowed: lightgbm, logistic"):
        read_families(["lightgbm", "xgb"])
    with pytest.raises(MMPError, match="tune.families"):
        parse(Params, params_dict(families=["lightgbm", "lightgbm"]))


def test_without_families_best_params_stay_plain(tmp_path: Path) -> None:
    params = parse(Params, params_dict())
    spec, values, family = tuned_recipe(params.model, {"num_leaves": 8})
    assert (spec, values, family) == (params.model, {"num_leaves": 8}, None)


optuna.logging.set_verbosity(optuna.logging.WARNING)
