"""The pipeline's steps in memory, end to end on a tiny frame: no DVC, no subprocess, no files
but the package directory."""

from __future__ import annotations

import pickle
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mmp.core.config import Params, parse, read_params
from mmp.core.errors import MMPError
from mmp.data.synthetic import credit_default
from mmp.pipeline import steps
from tests.conftest import ROOT


def tiny_params() -> Params:
    raw = read_params(ROOT / "params.yaml")
    raw["model"] = {
        "class_path": "lightgbm.LGBMClassifier",
        "hyperparameters": {"n_estimators": 10, "num_leaves": 7, "n_jobs": 1, "verbose": -1},
    }
    return parse(Params, raw)


def test_prepare_to_package_in_memory_then_load_and_score(tmp_path: Path) -> None:
    import mlflow.pyfunc

    params = tiny_params()
    prepared = steps.prepare(credit_default(400, 3), params.data, params.seed)
    assert (len(prepared.train), len(prepared.test)) == (320, 80)
    assert prepared.stats["rows"] == {"train": 320, "test": 80, "total": 400}
    featurized = steps.featurize(prepared.train, prepared.test, params)
    assert list(featurized.train.columns[-1:]) == params.data.targets and len(featurized.test) == 80
    model = steps.train(featurized.train, params)
    metrics = steps.evaluate(featurized.test, model, params)
    assert 0 <= metrics["roc_auc"] <= 1 and "accuracy" in metrics
    steps.package(
        tmp_path / "package", featurized.featurizer, model, prepared.schema, metrics, params, datetime(2024, 1, 1), train=prepared.train
    )

    assert "# Model card: credit-default" in (tmp_path / "package" / "MODEL_CARD.md").read_text()
    reference = pd.read_parquet(tmp_path / "package" / "reference.parquet")  # drift's reference: inputs + predictions
    assert len(reference) == 320 and list(reference.columns) == [*prepared.schema.feature_names, "mmp_prediction", "mmp_score"]
    assert reference["mmp_score"].between(0, 1).all()
    raw = prepared.test.drop(columns=params.data.targets).head(5)
    scored = mlflow.pyfunc.load_model(str(tmp_path / "package")).predict(raw)
    assert len(scored) == 5 and set(scored["prediction"]) <= {0, 1}
    assert scored.filter(like="proba_").sum(axis=1).round(6).eq(1).all()


def test_prepare_reports_every_data_problem_at_once() -> None:
    params = tiny_params()
    frame = credit_default(100, 3).assign(age=-5.0, region="mars")
    with pytest.raises(MMPError) as err:
        steps.prepare(frame, params.data, params.seed)
    assert "age" in str(err.value) and "region" in str(err.value)


def test_evaluate_logs_the_task_plots_to_the_logger_passed_in() -> None:
    params = tiny_params()
    prepared = steps.prepare(credit_default(300, 4), params.data, params.seed)
    featurized = steps.featurize(prepared.train, prepared.test, params)
    model = steps.train(featurized.train, params)

    class Recorder:
        def __init__(self) -> None:
            self.names: list[str] = []

        def log_plot(self, name: str, datapoints: pd.DataFrame, **kwargs: object) -> None:
            self.names.append(name)

        def log_sklearn_plot(self, kind: str, labels: object, predictions: object, **kwargs: object) -> None:
            self.names.append(str(kwargs.get("name", kind)))

    recorder = Recorder()
    assert steps.evaluate(featurized.test, model, params, recorder) == steps.evaluate(featurized.test, model, params)
    assert recorder.names == ["confusion_matrix", "roc", "precision_recall", "importance"]


def test_f1_threshold_is_chosen_on_validation_rows_and_travels_into_the_package(tmp_path: Path) -> None:
    import json

    from mmp.inference.scorer import Scorer
    from mmp.modeling.metrics import f1_threshold

    # Hand-checked: cut 0.4 labels {0.4, 0.7, 0.9} positive: precision 2/3, recall 1, F1 0.8 (the best).
    assert f1_threshold(np.array([0, 1, 0, 1]), np.array([0.1, 0.4, 0.7, 0.9])) == (0.4, 0.8)
    params = tiny_params()
    assert params.evaluate.threshold == "f1"  # the default recipe's rule
    prepared = steps.prepare(credit_default(400, 3), params.data, params.seed)
    featurized = steps.featurize(prepared.train, prepared.test, params)
    chosen = steps.decision_threshold(featurized.train, params)
    assert chosen["validation_rows"] == 64 and 0 < chosen["threshold"] < 1  # a fifth of the 320 train rows
    assert chosen["validation_f1"] >= chosen["validation_f1_at_0.5"]  # the maximum over every cut includes 0.5
    model = steps.train(featurized.train, params)
    metrics = steps.evaluate(featurized.test, model, params, threshold=chosen["threshold"])
    assert metrics["threshold"] == chosen["threshold"] and "f1_at_0.5" in metrics
    at_half = steps.evaluate(
        featurized.test, model, params.model_copy(update={"evaluate": params.evaluate.model_copy(update={"threshold": 0.5})})
    )
    assert (at_half["threshold"], at_half["f1"]) == (0.5, metrics["f1_at_0.5"])
    steps.package(tmp_path / "package", featurized.featurizer, model, prepared.schema, metrics, params, datetime(2024, 1, 1))

    package = tmp_path / "package"
    assert json.loads((package / "artifacts" / "metadata.json").read_text())["threshold"] == chosen["threshold"]
    assert f"- Decision threshold: {chosen['threshold']:g}, chosen to maximise F1" in (package / "MODEL_CARD.md").read_text()
    assert Scorer.from_package(package).threshold == chosen["threshold"]


def test_the_threshold_fit_beside_the_model_fit_gives_the_same_model_and_threshold() -> None:
    """train_with_threshold runs the two LightGBM fits at once on one thread each: the trees and
    the threshold equal the fits one after the other on the recipe's two threads, and the fitted
    model keeps n_jobs=2 (its booster's stored num_threads too)."""
    raw = read_params(ROOT / "params.yaml")
    raw["model"] = {
        "class_path": "lightgbm.LGBMClassifier",
        "hyperparameters": {"n_estimators": 30, "num_leaves": 15, "n_jobs": 2, "verbose": -1},
    }
    params = parse(Params, raw)
    prepared = steps.prepare(credit_default(6000, 5), params.data, params.seed)
    train = steps.featurize(prepared.train, prepared.test, params).train
    assert steps.threads_beside(params) == 1
    one_after_other = steps.train(train, params), steps.decision_threshold(train, params)
    side_by_side = steps.train_with_threshold(train, params)
    assert side_by_side[1] == one_after_other[1]
    model = side_by_side[0]
    assert model.booster_.model_to_string() == one_after_other[0].booster_.model_to_string()
    assert model.n_jobs == 2 and model.booster_.params["num_threads"] == 2 and "n_jobs" not in model._other_params
    # LightGBM's thread count is process-wide: both fits keep it at one thread until the model's
    # last round, so the curve (kept in the pickled model) is summed alike in every run.
    curves = [steps.train_with_threshold(train, params, logger=CurveLogger())[0] for _ in range(2)]
    assert curves[0].evals_result_["train"]["binary_logloss"] and pickle.dumps(curves[0]) == pickle.dumps(curves[1])


class CurveLogger:
    """dvclive's part that LightGBM's callback calls, in memory."""

    def log_metric(self, name: str, value: float, **kwargs: object) -> None:
        pass

    def next_step(self) -> None:
        pass


def test_the_threshold_fit_runs_after_the_model_fit_unless_both_are_lightgbm_on_two_threads() -> None:
    params = tiny_params()  # n_jobs: 1
    assert steps.threads_beside(params) is None
    raw = read_params(ROOT / "params.yaml")
    assert steps.threads_beside(parse(Params, raw)) == 1  # the default recipe: n_jobs 2
    raw["model"]["hyperparameters"]["n_jobs"] = 5
    assert steps.threads_beside(parse(Params, raw)) == 2
    raw["evaluate"]["threshold"] = 0.4  # no fit of its own
    assert steps.threads_beside(parse(Params, raw)) is None
    raw["evaluate"]["threshold"] = "f1"
    raw["model"] = {"class_path": "sklearn.linear_model.LogisticRegression", "hyperparameters": {"n_jobs": 2}}
    assert steps.threads_beside(parse(Params, raw)) is None


def test_in_background_hands_back_the_result_or_the_exception() -> None:
    assert steps.in_background(sum, [1, 2, 3])() == 6
    with pytest.raises(ZeroDivisionError):
        steps.in_background(divmod, 1, 0)()


def test_a_fixed_threshold_is_taken_as_given_and_other_tasks_have_none() -> None:
    raw = read_params(ROOT / "params.yaml")
    raw["evaluate"]["threshold"] = 0.3
    fixed = parse(Params, raw)
    assert steps.decision_threshold(pd.DataFrame(), fixed) == {"threshold": 0.3}
    raw["data"] = {**raw["data"], "task_type": "multiclass"}
    assert steps.decision_threshold(pd.DataFrame(), parse(Params, raw)) == {}
    raw["evaluate"]["threshold"] = "best"
    with pytest.raises(MMPError, match="evaluate.threshold"):
        parse(Params, raw)
