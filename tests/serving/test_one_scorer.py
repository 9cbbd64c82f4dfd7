"""One scorer behind every way of scoring: the MLflow pyfunc, the HTTP app and batch scoring give
identical predictions for the same raw rows, equal to the estimator's own API, and each reports
the featurizer backend it chose at load."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from mmp.core.settings import ServingSettings
from mmp.inference.batch import Identity, score_to_file
from mmp.inference.scorer import Scorer
from mmp.modeling.features import transform
from mmp.serving.app import create_app
from tests.serving.conftest import sample_frame


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    frame = sample_frame(60, seed=21).drop(columns=["default"])
    frame.loc[[3, 9], "income"] = np.nan  # missing values travel every path
    frame.loc[[4, 9], "employment_type"] = None
    frame.loc[[5], "first_credit_date"] = pd.NaT
    return frame


def as_records(frame: pd.DataFrame) -> list[dict]:
    """The rows as an HTTP client sends them (JSON: ISO dates, null for missing)."""
    return json.loads(frame.to_json(orient="records", date_format="iso"))


def test_pyfunc_http_and_batch_give_identical_predictions(package_dir: Path, rows: pd.DataFrame, tmp_path: Path) -> None:
    import mlflow.pyfunc

    pyfunc = mlflow.pyfunc.load_model(str(package_dir)).predict(rows)

    client = TestClient(create_app(str(package_dir), settings=ServingSettings(), env={}))
    body = client.post("/predict", json=as_records(rows)).json()

    scorer = Scorer.from_package(package_dir)
    score_to_file(
        scorer, iter([rows.iloc[:25], rows.iloc[25:]]), tmp_path / "out.parquet", Identity("m", "1", pd.Timestamp(0)), progress=False
    )
    batch = pd.read_parquet(tmp_path / "out.parquet")

    # the estimator's own API on the sklearn featurizer: an answer written without the Scorer
    proba = scorer.model.predict_proba(transform(scorer.featurizer, rows))[:, 1]
    np.testing.assert_allclose(pyfunc["proba_1"], proba, rtol=1e-12, atol=1e-12)

    assert pyfunc["prediction"].tolist() == body["predictions"] == batch["prediction"].tolist()
    assert pyfunc["proba_1"].tolist() == [p["1"] for p in body["probabilities"]] == batch["proba_1"].tolist()
    assert pyfunc["proba_0"].tolist() == [p["0"] for p in body["probabilities"]] == batch["proba_0"].tolist()
    assert batch["customer_id"].tolist() == rows["customer_id"].tolist()


def test_every_path_reports_the_featurizer_backend(package_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    import mlflow.pyfunc

    with caplog.at_level(logging.INFO):
        app = create_app(str(package_dir), settings=ServingSettings(), env={})
    assert TestClient(app).get("/metadata").json()["featurizer_path"] == "numpy"
    assert "featurizer backend: numpy" in caplog.text  # said once at start-up
    assert mlflow.pyfunc.load_model(str(package_dir)).unwrap_python_model().scorer.backend == "numpy"
    assert Scorer.from_package(package_dir).backend == "numpy"
