"""Where the served model comes from: the environment contract, the MLflow registry (by alias)
and a run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mmp.serving.loader import fetched, gate_from_tags, model_spec, resolved
from tests.serving.conftest import sqlite_registry


def test_model_spec_from_the_environment() -> None:
    assert model_spec("models/package", {"MMP_MODEL": "x"}) == "models/package"
    assert model_spec(None, {"MMP_MODEL": "runs:/abc/model"}) == "runs:/abc/model"
    assert model_spec(None, {"MLFLOW_MODEL_NAME": "credit", "MLFLOW_MODEL_ALIAS": "champion"}) == "models:/credit@champion"
    assert model_spec(None, {"MLFLOW_MODEL_NAME": "credit", "MLFLOW_MODEL_STAGE": "Production"}) == "models:/credit@champion"
    assert model_spec(None, {"MLFLOW_MODEL_NAME": "credit", "MLFLOW_MODEL_STAGE": "Staging"}) == "models:/credit@challenger"
    assert gate_from_tags({"gate.passed": "true", "owner": "x"}) == {"gate.passed": "true"}
    assert gate_from_tags({}) == "unknown"


def test_load_from_the_registry_by_alias_and_from_a_run(package_dir: Path, tmp_path: Path) -> None:
    import mlflow
    from mlflow import MlflowClient

    uri, (run,) = sqlite_registry(tmp_path, "credit-default", [package_dir])
    client = MlflowClient(uri)
    client.set_registered_model_alias("credit-default", "champion", "1")
    client.set_model_version_tag("credit-default", "1", "gate.passed", "true")

    env = {"MLFLOW_MODEL_NAME": "credit-default", "MLFLOW_MODEL_ALIAS": "champion", "MLFLOW_TRACKING_URI": uri}
    with resolved(None, env) as ref:
        assert (ref.name, ref.version, ref.gate) == ("credit-default", "1", {"gate.passed": "true"})
        assert Path(ref.path, "MLmodel").is_file()
    assert not Path(ref.path).exists(), "the download is removed when the block ends"
    with fetched(run.info.run_id, uri) as by_run:
        assert by_run.version == run.info.run_id and Path(by_run.path, "artifacts", "model.joblib").is_file()
    # a leaked MLFLOW_TRACKING_URI would send every later pipeline subprocess to this store
    assert "MLFLOW_TRACKING_URI" not in os.environ and mlflow.get_tracking_uri() != uri

    from fastapi.testclient import TestClient

    from mmp.core.settings import ServingSettings
    from mmp.serving.app import create_app

    app = create_app("models:/credit-default@champion", settings=ServingSettings(), env={"MLFLOW_TRACKING_URI": uri})
    meta = TestClient(app).get("/metadata").json()
    assert (meta["name"], meta["version"], meta["gate"]) == ("credit-default", "1", {"gate.passed": "true"})
    from mmp.core.errors import MMPError

    with pytest.raises(MMPError, match="cannot fetch models:/credit-default@nope"), fetched("models:/credit-default@nope", uri):
        pass
