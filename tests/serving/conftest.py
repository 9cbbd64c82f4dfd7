"""A small real model package shared by the serving and batch tests: the pipeline's own steps
(``mmp.pipeline.steps``), in memory and without DVC, on synthetic credit-default rows with the
default recipe and a small LightGBM."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from mmp.core.config import DataConfig, Params, parse, read_params
from mmp.data.contract import coerce_dates
from mmp.data.synthetic import credit_default
from mmp.pipeline import steps
from tests.conftest import ROOT

DATA = DataConfig.model_validate(
    {
        "source_uri": "synthetic://credit_default",
        "target_col": "default",
        "task_type": "binary",
        "id_cols": ["customer_id"],
        "time_col": "application_date",
        "contract": {
            "allow_extra_columns": False,
            "columns": {
                "age": {"dtype": "float", "min": 18, "max": 100},
                "loan_amount": {"dtype": "float", "min": 0, "nullable": False},
                "loan_term_months": {"dtype": "int", "allowed": [12, 24, 36, 60], "nullable": False},
                "num_late_payments": {"dtype": "int", "min": 0, "nullable": False},
                "region": {"dtype": "category", "allowed": ["north", "south", "east", "west", "central"], "nullable": False},
                "employment_type": {"dtype": "category", "allowed": ["salaried", "self_employed", "unemployed", "retired", "student"]},
                "home_ownership": {"dtype": "category", "allowed": ["rent", "own", "mortgage"]},
                "first_credit_date": {"dtype": "datetime"},
                "application_date": {"dtype": "datetime", "nullable": False},
                "customer_id": {"dtype": "int", "nullable": False},
            },
        },
    }
)


def sample_frame(rows: int = 2000, seed: int = 7) -> pd.DataFrame:
    return coerce_dates(credit_default(rows, seed), DATA.contract)


def small_params(seed: int = 0) -> Params:
    """The default recipe (params.yaml) with default features and a small, single-threaded
    LightGBM: quick to fit, the same code path as the pipeline."""
    raw = read_params(ROOT / "params.yaml")
    raw.update(
        seed=seed,
        features={},
        model={
            "class_path": "lightgbm.LGBMClassifier",
            "hyperparameters": {"n_estimators": 30, "num_leaves": 15, "n_jobs": 1, "verbose": -1},
        },
    )
    return parse(Params, raw)


def build_package(dest: Path, rows: int = 2000, seed: int = 0) -> Path:
    """Run the pipeline's steps in memory (prepare -> featurize -> train -> evaluate ->
    package) on synthetic rows and return the pyfunc directory under ``dest`` (another ``seed``:
    another split and model, the same inputs)."""
    params = small_params(seed)
    prepared = steps.prepare(credit_default(rows, 7), params.data, params.seed)
    featurized = steps.featurize(prepared.train, prepared.test, params)
    model = steps.train(featurized.train, params)
    metrics = steps.evaluate(featurized.test, model, params)
    steps.package(
        dest / "package", featurized.featurizer, model, prepared.schema, metrics, params, datetime(2024, 1, 1), train=prepared.train
    )
    return dest / "package"


@pytest.fixture(scope="session")
def package_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_package(tmp_path_factory.mktemp("model"))


@pytest.fixture(scope="session")
def challenger_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second model on the same data and inputs (another seed): an A/B challenger."""
    return build_package(tmp_path_factory.mktemp("challenger"), seed=1)


def sqlite_registry(tmp_path: Path, name: str, packages: Sequence[Path]) -> tuple[str, list[Any]]:
    """A SQLite MLflow store under ``tmp_path`` holding each package as a run's ``model``
    artifacts and as version 1, 2, ... of ``name``; its URI and the runs. Only an explicit client
    is used: MLflow's global tracking URI, which ``mlflow.set_tracking_uri`` also exports into the
    process environment, is never set. Changing the environment while another thread reads it
    from C (glibc's getenv, e.g. a log line's local time) can crash the process: an xdist worker
    died of a segfault in getenv during this test module."""
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = MlflowClient(uri)
    experiment = client.create_experiment("serving-test", artifact_location=(tmp_path / "artifacts").as_uri())
    client.create_registered_model(name)
    runs = []
    for package in packages:
        run = client.create_run(experiment)
        client.log_artifacts(run.info.run_id, str(package), "model")
        client.set_terminated(run.info.run_id)
        client.create_model_version(name, f"{run.info.artifact_uri}/model", run_id=run.info.run_id)
        runs.append(run)
    return uri, runs


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(proc: subprocess.Popen, url: str, timeout: float = 120) -> None:
    """Until ``mmp serve`` at ``url`` answers /ready; fails with its output if it exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""


def example_record(package: Path) -> dict:
    """The package's own input example (medians/modes), as a client would send it."""
    import json

    return json.loads((package / "artifacts" / "schema.json").read_text())["example"]


@pytest.fixture
def pg_url():
    """A fresh PostgreSQL database on 127.0.0.1 for one test (dropped afterwards)."""
    import uuid

    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    name = f"mmp_issue6_{uuid.uuid4().hex[:10]}"
    admin = None
    for user in ("postgres", "root"):
        engine = create_engine(f"postgresql+psycopg2://{user}@127.0.0.1:5432/test", isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            admin, url = engine, f"postgresql+psycopg2://{user}@127.0.0.1:5432/{name}"
            break
        except OperationalError:
            engine.dispose()
    if admin is None:
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432 (users postgres/root, database test)")
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def redis_prefix():
    """A unique key prefix on the local Redis; its keys are deleted afterwards."""
    import uuid

    import redis

    client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("Redis is not reachable on 127.0.0.1:6379")
    prefix = f"mmp-test-{uuid.uuid4().hex[:10]}:"
    yield "redis://127.0.0.1:6379/0", prefix
    keys = list(client.scan_iter(f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()
