"""A small real model package (the same stage code path, without DVC) shared by the serving and
batch tests: synthetic credit-default rows, the configured featurizer, a small LightGBM, saved
as the MLflow pyfunc directory by ``save_package``."""

from __future__ import annotations

import socket
from datetime import datetime
from pathlib import Path

import joblib
import pandas as pd
import pytest

from mmp.core.config import DataConfig, FeaturesConfig
from mmp.core.io import write_json
from mmp.data.contract import coerce_dates
from mmp.data.schema import infer_schema
from mmp.data.synthetic import credit_default
from mmp.modeling.features import build_featurizer, select_columns, transform

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


def build_package(dest: Path, rows: int = 2000) -> Path:
    """Fit and package a model under ``dest`` and return the pyfunc directory."""
    from lightgbm import LGBMClassifier

    from mmp.inference.pyfunc import save_package

    frame = sample_frame(rows)
    schema = infer_schema(frame, DATA)
    raw = frame.drop(columns=DATA.targets)
    featurizer = build_featurizer(FeaturesConfig(), select_columns(raw, FeaturesConfig(), DATA.non_feature_cols))
    featurizer.fit(raw)
    model = LGBMClassifier(n_estimators=30, num_leaves=15, n_jobs=1, verbose=-1, random_state=0)
    model.fit(transform(featurizer, raw), frame["default"])
    dest.mkdir(parents=True, exist_ok=True)
    joblib.dump(featurizer, dest / "featurizer.joblib")
    joblib.dump(model, dest / "model.joblib")
    write_json(dest / "schema.json", schema.to_json())
    write_json(dest / "metadata.json", {"model_class": "lightgbm.LGBMClassifier", "threshold": 0.5, "metrics": {"roc_auc": 0.8}})
    artifacts = {name: dest / f"{name}.{ext}" for name, ext in (("featurizer", "joblib"), ("model", "joblib"), ("schema", "json"), ("metadata", "json"))}
    save_package(dest / "package", artifacts, datetime(2024, 1, 1))
    return dest / "package"


@pytest.fixture(scope="session")
def package_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_package(tmp_path_factory.mktemp("model"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
