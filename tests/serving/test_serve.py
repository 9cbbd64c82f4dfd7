"""``mmp serve`` as a real process: N workers each serve the model; a model that cannot load
exits non-zero at start. And loading from the MLflow registry and from a run."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from mmp.serving.loader import fetch, gate_from_tags, model_spec, resolve
from tests.conftest import ROOT, pipeline_env
from tests.serving.conftest import example_record, free_port


def worker_pids(parent: int) -> set[int]:
    import psutil

    return {p.pid for p in psutil.Process(parent).children(recursive=True)}


def test_serve_with_two_workers_answers_real_requests(package_dir: Path) -> None:
    port = free_port()
    cmd = [sys.executable, "-m", "mmp", "serve", "--model", str(package_dir), "--port", str(port), "--workers", "2", "--no-access-log"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=pipeline_env(ROOT, MMP_API_TOKEN="tok"), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url, headers = f"http://127.0.0.1:{port}", {"Authorization": "Bearer tok"}
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx.get(f"{url}/ready", timeout=1).status_code == 200 and len(worker_pids(proc.pid)) >= 2:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        assert proc.poll() is None, proc.stdout.read()
        record = example_record(package_dir)
        # fresh connections spread over the workers; every answer must be a real prediction
        answers = [httpx.post(f"{url}/predict", json=record, headers=headers, timeout=10) for _ in range(20)]
        assert {a.status_code for a in answers} == {200}
        assert len({json.dumps(a.json()) for a in answers}) == 1
        assert httpx.post(f"{url}/predict", json=record, timeout=10).status_code == 401
        workers = worker_pids(proc.pid)
        assert len(workers) >= 2, "two worker processes serve the model"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_serve_fails_at_start_when_the_model_cannot_load(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "mmp", "serve", "--model", str(tmp_path / "missing"), "--port", str(free_port()), "--workers", "2"]
    proc = subprocess.run(cmd, cwd=ROOT, env=pipeline_env(ROOT), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "error: --model:" in proc.stderr and "neither an existing directory nor a model URI" in proc.stderr


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

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment(experiment_id=mlflow.create_experiment("serving-test", artifact_location=(tmp_path / "artifacts").as_uri()))
    with mlflow.start_run() as run:
        mlflow.log_artifacts(str(package_dir), "model")
    client = MlflowClient(uri)
    client.create_registered_model("credit-default")
    mv = client.create_model_version("credit-default", f"{run.info.artifact_uri}/model", run_id=run.info.run_id)
    client.set_registered_model_alias("credit-default", "champion", mv.version)
    client.set_model_version_tag("credit-default", mv.version, "gate.passed", "true")

    ref = resolve(None, {"MLFLOW_MODEL_NAME": "credit-default", "MLFLOW_MODEL_ALIAS": "champion", "MLFLOW_TRACKING_URI": uri})
    assert (ref.name, ref.version, ref.gate) == ("credit-default", "1", {"gate.passed": "true"})
    assert Path(ref.path, "MLmodel").is_file()
    by_run = fetch(run.info.run_id, uri)
    assert by_run.version == run.info.run_id and Path(by_run.path, "artifacts", "model.joblib").is_file()

    from fastapi.testclient import TestClient

    from mmp.core.settings import ServingSettings
    from mmp.serving.app import create_app

    app = create_app("models:/credit-default@champion", settings=ServingSettings(), env={"MLFLOW_TRACKING_URI": uri})
    meta = TestClient(app).get("/metadata").json()
    assert (meta["name"], meta["version"], meta["gate"]) == ("credit-default", "1", {"gate.passed": "true"})
    from mmp.core.errors import MMPError

    with pytest.raises(MMPError, match="cannot fetch models:/credit-default@nope"):
        fetch("models:/credit-default@nope", uri)


def dockerfile_cmd() -> list[str]:
    lines = [line for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("CMD ")]
    assert len(lines) == 1
    return json.loads(lines[0].removeprefix("CMD "))


def test_the_image_command_serves_the_model_named_by_env_vars(package_dir: Path) -> None:
    """No Docker engine here: run the image's own CMD (its app factory) with the env-var contract,
    on 127.0.0.1 and a free port instead of 0.0.0.0:8080."""
    cmd = dockerfile_cmd()
    assert cmd[:3] == ["uvicorn", "--factory", "mmp.serving.app:create_app"] and cmd[-4:] == ["--host", "0.0.0.0", "--port", "8080"]
    port = free_port()
    local = [sys.executable, "-m", *cmd[:-4], "--host", "127.0.0.1", "--port", str(port)]
    env = pipeline_env(ROOT, APP_ENV="prod", MLFLOW_TRACKING_URI="sqlite:///unused.db", MMP_MODEL=str(package_dir), MMP_MAX_BODY_BYTES="5000")
    proc = subprocess.Popen(local, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url, deadline, ready = f"http://127.0.0.1:{port}", time.monotonic() + 90, None
        while ready is None and time.monotonic() < deadline and proc.poll() is None:
            try:
                ready = httpx.get(f"{url}/ready", timeout=1)
            except httpx.HTTPError:
                time.sleep(0.3)
        assert ready is not None and ready.status_code == 200, proc.stdout.read() if proc.poll() is not None else "not ready"
        assert httpx.post(f"{url}/predict", json=example_record(package_dir), timeout=10).status_code == 200
        assert httpx.post(f"{url}/predict", json=[example_record(package_dir)] * 30, timeout=10).status_code == 413  # MMP_MAX_BODY_BYTES
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    failed = subprocess.run(local, cwd=ROOT, env=pipeline_env(ROOT, APP_ENV="prod", MLFLOW_TRACKING_URI="sqlite:///unused.db"), capture_output=True, text=True, timeout=90)
    assert failed.returncode != 0 and "no model given" in failed.stderr
