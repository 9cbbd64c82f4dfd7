"""The same recipe end to end on Dask: ``dvc exp run -S compute=dask`` in a temp copy."""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import pandas as pd
import pytest
import yaml

from tests.conftest import run

pytestmark = pytest.mark.slow


def test_dvc_exp_run_compute_dask_packages_the_same_local_model(repo_copy: Path) -> None:
    small = ["-S", "data.rows=1000", "-S", "model.hyperparameters.n_estimators=20"]
    run(["dvc", "exp", "run", "-S", "compute=dask", *small], repo_copy, timeout=900, MMP_MIRROR="false")
    params = yaml.safe_load((repo_copy / "params.yaml").read_text())
    assert params["compute"]["engine"] == "dask"
    model = joblib.load(repo_copy / "models" / "model.joblib")
    assert type(model).__name__ == "LGBMClassifier"  # lightgbm.dask's to_local(): a plain local model
    assert json.loads((repo_copy / "metrics" / "evaluate.json").read_text())["roc_auc"] > 0.6
    assert (repo_copy / "models" / "package" / "MLmodel").exists()
    featurizer = joblib.load(repo_copy / "models" / "featurizer.joblib")
    assert type(featurizer).__name__ == "Pipeline"  # fitted on the cluster, the same local scikit-learn object
    features = pd.read_parquet(repo_copy / "data" / "features" / "train.parquet")
    assert (features.dtypes == "int32").sum() == 3  # LightGBM's native category codes (encode: auto), fitted on Dask
