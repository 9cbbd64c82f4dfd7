"""The pipeline's steps in memory, end to end on a tiny frame: no DVC, no subprocess, no files
but the package directory."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

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
