"""`dvc exp run -S model=lightning_mlp` end to end: Lightning's MLFlowLogger and the mirror stage
write ONE MLflow run (the SQLite store the pipeline fills), and the package loads with plain
MLflow and predicts as the fitted estimator."""

from __future__ import annotations

from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest

from mmp.core.identity import KEY_TAG
from tests.conftest import run

pytestmark = pytest.mark.slow
TINY = [
    "-S",
    "data.rows=1000",
    "-S",
    "model=lightning_mlp",
    "-S",
    "model.hyperparameters.epochs=3",
    "-S",
    "model.hyperparameters.hidden_layers=[16]",
]


def test_lightning_and_the_mirror_share_one_run_and_the_package_predicts_as_the_estimator(repo_copy: Path) -> None:
    import mlflow.pyfunc
    from mlflow import MlflowClient

    out = run(["dvc", "exp", "run", *TINY, "-n", "lit"], repo_copy).stdout
    assert "mirrored lit -> MLflow run" in out
    assert "GPU available" not in out, "no Lightning banner in the stage logs"
    client = MlflowClient(tracking_uri=f"sqlite:///{repo_copy}/mlflow.db")
    experiment = client.get_experiment_by_name("modern-ml-pipeline")
    [only] = client.search_runs([experiment.experiment_id])  # never a second run
    run_id, data = only.info.run_id, only.data
    assert data.tags["mmp.dvc.exp_name"] == "lit" and data.tags[KEY_TAG].endswith(":lit"), "the mirror's tags"
    assert only.info.run_name == "lit" and only.info.status == "FINISHED"
    assert data.params["model.class_path"] == "mmp.modeling.models.lightning.LightningMLPClassifier", "the mirror's params"
    assert data.params["hidden_layers"] == "[16]" and data.params["epochs"] == "3", "Lightning's params"
    assert [len(client.get_metric_history(run_id, m)) for m in ("train_loss", "val_loss")] == [3, 3], "Lightning's per-epoch metrics"
    assert "roc_auc" in data.metrics, "the mirror's metrics"
    assert any(a.path.startswith("best-epoch=") for a in client.list_artifacts(run_id)), "the best checkpoint"

    raw = pd.read_parquet(repo_copy / "data/prepared/test.parquet").drop(columns=["default"]).head(20)
    scored = mlflow.pyfunc.load_model(str(repo_copy / "models/package")).predict(raw)
    from mmp.modeling.features import transform

    model = joblib.load(repo_copy / "models/model.joblib")
    expected = model.predict_proba(transform(joblib.load(repo_copy / "models/featurizer.joblib"), raw))
    np.testing.assert_allclose(scored[["proba_0", "proba_1"]].to_numpy(), expected, rtol=1e-5, atol=1e-6)
