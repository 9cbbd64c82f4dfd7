"""Uplift: the S/T/X meta-learners on synthetic data with a known effect, the Qini/AUUC/PEHE
metrics and the decile table, the task rules (treatment column, learner vs task, no tuning),
causalml by class_path with its extra, and the effect through the one scorer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import pytest
from lightgbm import LGBMClassifier, LGBMRegressor

from mmp.core.config import DataConfig, ModelConfig, Params, parse
from mmp.core.errors import MMPError
from mmp.data.checks import data_problems
from mmp.data.synthetic import marketing_uplift
from mmp.modeling.metrics import uplift_by_decile, uplift_metrics
from mmp.modeling.models.uplift import SLearner, TLearner, XLearner
from mmp.modeling.recipe import build_estimator, check_task
from mmp.tuning.checks import tune_metric_problems

FEATURES = ["age", "tenure_months", "visits_last_month", "past_spend", "days_since_purchase"]
DATA = {
    "source_uri": "synthetic://marketing_uplift",
    "target_col": "spend",
    "task_type": "uplift",
    "treatment_col": "treatment",
    "effect_col": "true_effect",
    "id_cols": ["customer_id"],
}


def campaign(rows: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The generator's rows as a numeric feature matrix (channel one-hot) and the rest."""
    frame = marketing_uplift(rows, seed)
    X = frame[FEATURES].join(pd.get_dummies(frame["channel"], dtype="float64")).astype("float64")
    return X, frame


def small_lgbm() -> LGBMRegressor:
    return LGBMRegressor(n_estimators=80, learning_rate=0.1, num_leaves=7, min_child_samples=20, n_jobs=1, verbose=-1)


@pytest.fixture(scope="module")
def split() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    X, frame = campaign(4000, 1)
    return X.iloc[:3000], frame.iloc[:3000], X.iloc[3000:], frame.iloc[3000:]


def scores(model: Any, X: pd.DataFrame, frame: pd.DataFrame) -> dict[str, float]:
    effect = model.predict(X)
    return uplift_metrics(frame["spend"].to_numpy(), frame["treatment"].to_numpy(), effect, frame["true_effect"].to_numpy())


def test_t_learner_ranks_better_than_random_and_estimates_the_known_effect(split: Any) -> None:
    X, frame, X_test, test = split
    model = TLearner(estimator=small_lgbm()).fit(X, frame["spend"], frame["treatment"])
    got = scores(model, X_test, test)
    rng = np.random.default_rng(0)
    random = [uplift_metrics(test["spend"].to_numpy(), test["treatment"].to_numpy(), rng.normal(size=len(test)))["qini"] for _ in range(20)]
    assert got["qini"] > max(random) and got["qini"] > 0.1
    assert got["auuc"] > 0.6
    # better than the best constant (the mean effect), whose PEHE is the effect's spread
    spread = float(test["true_effect"].std(ddof=0))
    assert got["pehe"] < 0.85 * spread, (got, spread)


@pytest.mark.parametrize("learner", [SLearner, XLearner])
def test_s_and_x_learners_work_with_any_inner_estimator(learner: type, split: Any) -> None:
    X, frame, X_test, test = split
    model = learner(estimator=small_lgbm()).fit(X, frame["spend"], frame["treatment"])
    got = scores(model, X_test, test)
    assert got["qini"] > 0.1 and got["pehe"] < float(test["true_effect"].std(ddof=0))
    assert model.feature_importances_.shape == (X.shape[1],)


def test_a_classifier_inside_estimates_a_difference_in_probabilities() -> None:
    X, frame = campaign(1500, 2)
    bought = (frame["spend"] > frame["spend"].median()).astype(int)
    inner = LGBMClassifier(n_estimators=30, num_leaves=7, n_jobs=1, verbose=-1)
    for learner in (TLearner(estimator=inner), SLearner(estimator=inner), XLearner(estimator=inner, effect_estimator=small_lgbm())):
        effect = learner.fit(X, bought, frame["treatment"]).predict(X)
        assert effect.shape == (len(X),) and np.all(np.abs(effect) <= 1.0)


def test_metrics_of_the_true_ranking_and_the_decile_table() -> None:
    _, frame = campaign(3000, 3)
    y, t, true = frame["spend"].to_numpy(), frame["treatment"].to_numpy(), frame["true_effect"].to_numpy()
    best = uplift_metrics(y, t, true, true)
    worst = uplift_metrics(y, t, -true, true)
    assert best["qini"] > 0.1 > -0.1 > worst["qini"] and best["auuc"] > 0.5 > worst["auuc"] and best["pehe"] == 0
    table = uplift_by_decile(y, t, true, true)
    assert list(table["decile"]) == list(range(1, 11)) and table["rows"].sum() == len(frame)
    assert table["true_effect"].is_monotonic_decreasing
    assert table["observed_uplift"].iloc[0] > table["observed_uplift"].iloc[-1]


def test_uplift_needs_a_treatment_column_and_learners_match_the_task() -> None:
    with pytest.raises(MMPError, match="treatment_col"):
        parse(DataConfig, {**DATA, "treatment_col": None})
    with pytest.raises(MMPError, match="task_type uplift"):
        parse(DataConfig, {**DATA, "task_type": "regression"})
    with pytest.raises(MMPError, match="not an uplift learner"):
        check_task(LGBMRegressor(), "uplift")
    with pytest.raises(MMPError, match="is an uplift learner but data.task_type is regression"):
        check_task(TLearner(), "regression")
    frame = marketing_uplift(200, 0).assign(treatment=lambda d: d.treatment * 2)
    problems = data_problems(frame, parse(DataConfig, {**DATA, "contract": None}))
    assert [str(p) for p in problems] == [
        "column 'treatment': the treatment must be 0 (control) or 1 (treated) with both groups present and no missing values;"
        " got ['0', '2'] (allowed: 0 and 1)"
    ]


def test_tuning_an_uplift_model_is_refused_in_one_line() -> None:
    problems = tune_metric_problems({"enabled": True}, "uplift")
    assert len(problems) == 1 and str(problems[0]).startswith("tune.enabled: tuning is not supported for uplift tasks")
    assert tune_metric_problems({"enabled": False}, "uplift") == []


@pytest.mark.parametrize("short", ["TRegressor", "SRegressor", "XGBTRegressor", "BaseTRegressor"])
def test_a_causalml_class_path_names_its_extra_when_missing(short: str) -> None:
    try:
        import causalml  # noqa: F401

        pytest.skip("causalml is installed")
    except ImportError:
        pass
    spec = ModelConfig(class_path=f"causalml.inference.meta.{short}", hyperparameters={})
    with pytest.raises(MMPError) as err:
        build_estimator(spec, seed=0)
    message = str(err.value)
    assert "install the extra: pip install 'modern-ml-pipeline[causalml]'" in message
    real = f"Base{short}" if short in ("TRegressor", "SRegressor") else short  # the alias, resolved
    assert f"causalml.inference.meta.{real}" in message


def test_the_scorer_returns_the_effect_and_the_schema_leaves_treatment_out() -> None:
    """The pipeline's steps in memory on a small campaign, then the one scorer on raw rows
    (the packaged model's scoring path, without the MLflow save the e2e test covers)."""
    from mmp.core.config import read_params
    from mmp.inference.scorer import Scorer
    from mmp.pipeline import steps
    from tests.conftest import ROOT

    raw = read_params(ROOT / "params.yaml")
    inner = {"class_path": "lightgbm.LGBMRegressor", "hyperparameters": {"n_estimators": 30, "num_leaves": 7, "n_jobs": 1, "verbose": -1}}
    raw.update(
        data={**DATA, "contract": "marketing_uplift"},
        features={},
        model={"class_path": "mmp.modeling.models.uplift.TLearner", "hyperparameters": {"estimator": inner}},
    )
    params = parse(Params, raw)
    prepared = steps.prepare(marketing_uplift(1500, 4), params.data, params.seed)
    assert not {"treatment", "true_effect", "spend"} & set(prepared.schema.names)
    assert 0.4 < prepared.stats["treated_share"] < 0.6
    featurized = steps.featurize(prepared.train, prepared.test, params)
    model = steps.train(featurized.train, params)
    metrics = steps.evaluate(featurized.test, model, params)
    assert set(metrics) == {"qini", "auuc", "pehe"} and metrics["qini"] > 0
    scorer = Scorer(featurized.featurizer, model, prepared.schema, {})
    assert scorer.backend == "numpy"
    raw_rows = prepared.test.drop(columns=["treatment", "true_effect", "spend"]).head(50)
    out = scorer.predict(raw_rows)
    assert list(out.columns) == scorer.output_columns == ["effect"]
    expected = model.predict(featurized.test.drop(columns=params.data.label_cols).head(50))
    assert out["effect"].to_numpy() == pytest.approx(expected, abs=1e-9)

    # batch scoring (`mmp predict`): the id column and the effect per row
    from mmp.inference.batch import Identity, score_chunk

    scored = score_chunk(scorer, raw_rows, scorer.schema.contract(), Identity("m", "1", datetime(2024, 1, 1)), 0)
    assert list(scored.columns[:2]) == ["customer_id", "effect"] and scored["effect"].to_numpy() == pytest.approx(expected, abs=1e-9)

    # the HTTP API around the same scorer: predictions are the effects, also named as such
    from fastapi.testclient import TestClient

    from mmp.core.settings import ServingSettings
    from mmp.serving.app import Service, build_app
    from mmp.serving.loader import ModelRef

    service = Service(ModelRef(source="test", path="", name="marketing-uplift", version="1"), scorer, ServingSettings(), None)
    records = raw_rows.head(3).to_dict(orient="records")
    body = TestClient(build_app(service)).post("/predict", json=records).json()
    assert body["effects"] == body["predictions"] == pytest.approx(expected[:3].tolist(), abs=1e-9)
    assert "probabilities" not in body
