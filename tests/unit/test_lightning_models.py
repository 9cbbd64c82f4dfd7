"""The Lightning estimators: deterministic on CPU, early stopping on a plateau, the best
checkpoint restored, sklearn-compatible and joblib-picklable with the module's predictions, and
Lightning loggers fed per-epoch metrics (a real MLflow SQLite store)."""

from __future__ import annotations

import io
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_classification, make_regression

from mmp.core.config import Params, parse, read_params
from mmp.modeling.models.lightning import LightningMLPClassifier, LightningMLPRegressor, LightningTabTransformerClassifier
from tests.conftest import ROOT

SMALL = {"hidden_layers": [8], "batch_size": 64, "random_state": 3}


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    return make_classification(200, 5, n_informative=3, random_state=0)


def test_two_fits_on_cpu_predict_the_same(data: tuple[np.ndarray, np.ndarray]) -> None:
    import torch

    X, y = data
    first = LightningMLPClassifier(epochs=3, **SMALL).fit(X, y)
    second = clone(first).fit(X, y)
    assert len(first.history_) == 3
    np.testing.assert_array_equal(first.predict_proba(X), second.predict_proba(X))
    assert first.history_ == second.history_
    assert not torch.are_deterministic_algorithms_enabled(), "the process's torch flags are restored after a fit"


def test_early_stopping_stops_on_a_plateau_and_keeps_the_best_epoch(data: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = data
    # lr=0: the validation loss never improves after the first epoch.
    model = LightningMLPClassifier(epochs=20, patience=2, lr=0.0, **SMALL).fit(X, y)
    assert [h["epoch"] for h in model.history_] == [1, 2, 3], "stops after `patience` epochs without improvement"
    trained = LightningMLPClassifier(epochs=4, **SMALL).fit(X, y)
    assert trained.best_val_loss_ == pytest.approx(min(h["val_loss"] for h in trained.history_))


def test_joblib_round_trip_predicts_as_the_module(data: tuple[np.ndarray, np.ndarray]) -> None:
    import torch

    X, y = data
    model = LightningMLPClassifier(epochs=2, **SMALL).fit(X, y)
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    loaded = joblib.load(io.BytesIO(buffer.getvalue()))
    with torch.no_grad():
        logits = model.module_(torch.tensor(model._standardize(X.astype("float32"))))
    np.testing.assert_allclose(loaded.predict_proba(X), torch.softmax(logits.double(), dim=1).numpy(), rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert "_loggers" not in vars(loaded), "a run's loggers never travel with the model"


def test_tab_transformer_and_regressor_fit_and_predict(data: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = data
    codes = np.random.default_rng(0).integers(0, 3, (len(X), 2))
    tab = LightningTabTransformerClassifier(embedding_dim=4, n_heads=2, n_layers=1, epochs=2, **SMALL).fit(np.c_[X, codes], y)
    assert tab.categorical_columns_ == ["5", "6"] and tab.predict_proba(np.c_[X, codes]).shape == (len(X), 2)
    Xr, yr = make_regression(120, 4, random_state=0)
    reg = LightningMLPRegressor(epochs=2, **SMALL).fit(Xr, yr)
    assert reg.predict(Xr).shape == (120,) and np.isfinite(reg.predict(Xr)).all()


def test_mlflow_logger_gets_params_and_per_epoch_metrics(data: tuple[np.ndarray, np.ndarray], tmp_path: Path) -> None:
    from mlflow import MlflowClient
    from pytorch_lightning.loggers import MLFlowLogger

    X, y = data
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    logger = MLFlowLogger(experiment_name="unit", tracking_uri=uri, log_model=True, artifact_location=(tmp_path / "art").as_uri())
    LightningMLPClassifier(epochs=3, **SMALL).fit(X, y, loggers=[logger])
    client = MlflowClient(tracking_uri=uri)
    run = client.get_run(logger.run_id)
    assert run.data.params["hidden_layers"] == "[8]" and run.data.params["patience"] == "5"
    assert len(client.get_metric_history(logger.run_id, "val_loss")) == 3
    assert len(client.get_metric_history(logger.run_id, "train_loss")) == 3
    [best] = [a.path for a in client.list_artifacts(logger.run_id) if a.path.startswith("best-epoch=")]  # the best checkpoint only
    assert f"{best}/{best}.ckpt" in {a.path for a in client.list_artifacts(logger.run_id, best)}


def _params(class_path: str) -> Params:
    raw = read_params(ROOT / "params.yaml")
    raw["model"] = {"class_path": class_path, "hyperparameters": {}}
    return parse(Params, raw)


def test_the_train_stage_gives_lightning_an_mlflow_logger_only_with_mirroring_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mmp.core.identity import KEY_TAG
    from mmp.pipeline.lightning_run import mlflow_loggers

    lightning = _params("mmp.modeling.models.lightning.LightningMLPClassifier")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("MMP_MIRROR", "false")
    assert mlflow_loggers(tmp_path, lightning) == [], "mirroring off: dvclive only"
    assert not (tmp_path / "mlflow.db").exists()
    monkeypatch.setenv("MMP_MIRROR", "true")
    assert mlflow_loggers(tmp_path, _params("lightgbm.LGBMClassifier")) == [], "not a Lightning recipe"
    [first] = mlflow_loggers(tmp_path, lightning)
    [again] = mlflow_loggers(tmp_path, lightning)  # a retraining of the same experiment
    client = first.experiment
    assert client.get_run(first.run_id).info.lifecycle_stage == "deleted", "replaced, never a second run"
    assert client.get_run(again.run_id).data.tags[KEY_TAG].startswith("repro:")
