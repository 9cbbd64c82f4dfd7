"""Building the MLflow run payload from an experiment's files (no MLflow, no DVC run)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from mmp.core.config import load_params
from mmp.core.db import redact
from mmp.core.errors import MMPError
from mmp.core.io import md5_file
from mmp.data.schema import InputSchema
from mmp.inference.model_card import DataFile, render_card
from mmp.modeling.gate import evaluate_gate
from mmp.ops.tracking.payload import build_payload, dvc_paths, flatten, param_value, step_series
from mmp.ops.tracking.registry import champion_alias
from mmp.ops.tracking.state import WorkspaceFiles, exp_identity

ROOT = Path(__file__).resolve().parents[2]


def test_params_flatten_like_dvc_shows_them() -> None:
    flat = {
        k: param_value(v)
        for k, v in flatten({"model": {"hyperparameters": {"n": 3, "lr": {"low": 0.1}}}, "data": {"id_cols": ["a"], "rows": None}}).items()
    }
    assert flat == {"model.hyperparameters.n": "3", "model.hyperparameters.lr.low": "0.1", "data.id_cols": '["a"]', "data.rows": "null"}


def test_step_series_reads_dvclive_tsv() -> None:
    assert step_series("step\tbinary_logloss\n0\t0.5\n1\t0.4\n") == {"binary_logloss": [(0, 0.5), (1, 0.4)]}
    assert step_series("timestamp\tstep\tloss\n17\t0\t1.5\n") == {"loss": [(0, 1.5)]}


def test_dvc_paths_resolve_the_declared_metrics_files() -> None:
    paths, metrics = dvc_paths(yaml.safe_load((ROOT / "dvc.yaml").read_text()))
    assert paths["package"] == "models/package"
    assert metrics["evaluate"] == [paths["scores"]]
    assert metrics["prepare"] == [paths["data_stats"]]


def write_workspace(root: Path) -> None:
    (root / "metrics/train/plots/metrics").mkdir(parents=True)
    (root / "data/prepared").mkdir(parents=True)
    (root / "dvc.yaml").write_text((ROOT / "dvc.yaml").read_text())
    (root / "params.yaml").write_text(yaml.safe_dump({"seed": 1, "registry": {"model_name": "m1"}}))
    (root / "metrics/evaluate.json").write_text(json.dumps({"f1": 0.5, "roc_auc": 0.8}))
    (root / "metrics/data.json").write_text(json.dumps({"rows": {"train": 8, "test": 2}}))
    (root / "metrics/data_profile.json").write_text(json.dumps({"missing_rate": {"age": 0.1}}))
    (root / "metrics/train/plots/metrics/loss.tsv").write_text("step\tloss\n0\t1.0\n1\t0.5\n")
    (root / "data/prepared/train.parquet").write_bytes(b"train-bytes")
    (root / "data/prepared/test.parquet").write_bytes(b"test-bytes")


def test_workspace_payload(tmp_path: Path) -> None:
    write_workspace(tmp_path)
    payload = build_payload(WorkspaceFiles(tmp_path), exp_identity("base", "e1", "abc"), tmp_path / "scratch")
    assert payload.model_name == "m1"
    assert payload.params == {"seed": "1", "registry.model_name": "m1"}
    assert payload.metrics == {"f1": 0.5, "roc_auc": 0.8, "data.rows.train": 8.0, "data.rows.test": 2.0}
    assert payload.steps == {"train/loss": [(0, 1.0), (1, 0.5)]}
    # The per-column profile is an artifact, not one metric per column.
    assert set(payload.artifacts) == {"plots/train/metrics/loss.tsv", "data_profile.json"}
    assert [(d.name, d.rows, d.md5) for d in payload.datasets] == [
        ("train", 8, md5_file(tmp_path / "data/prepared/train.parquet")),
        ("test", 2, md5_file(tmp_path / "data/prepared/test.parquet")),
    ]
    assert payload.tags["mmp.exp_key"] == "exp:base:e1" and payload.tags["mmp.dvc.exp_name"] == "e1"
    assert payload.package is None, "no package on disk: nothing to log as a model"


def test_redact_hides_passwords() -> None:
    assert redact("postgresql://u:s3cret@host/db") == "postgresql://u:***@host/db"
    assert redact("http://127.0.0.1:5000") == "http://127.0.0.1:5000"


def test_model_stage_is_taken_as_an_alias(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_MODEL_STAGE", raising=False)
    assert champion_alias() == "champion"
    monkeypatch.delenv("MLFLOW_MODEL_ALIAS", raising=False)
    monkeypatch.setenv("MLFLOW_MODEL_STAGE", "Production")  # read as `mmp serve` reads it
    assert champion_alias() == "champion"
    monkeypatch.setenv("MLFLOW_MODEL_STAGE", "Blue")
    assert champion_alias() == "blue"
    monkeypatch.setenv("MLFLOW_MODEL_STAGE", "v2")
    with pytest.raises(MMPError, match="MLFLOW_MODEL_STAGE"):
        champion_alias()


def test_model_card_is_deterministic_and_complete() -> None:
    params = load_params(ROOT / "params.yaml")
    metrics = {"roc_auc": 0.81, "f1": 0.27}
    columns = [
        {"name": "age", "dtype": "float", "nullable": True, "role": "feature"},
        {"name": "customer_id", "dtype": "int", "nullable": False, "role": "id"},
    ]
    schema = InputSchema(columns=columns, targets=["default"], task_type="binary")
    data = [DataFile("train", "data/prepared/train.parquet", 16000, "ab" * 16)]
    gate = params.evaluate.gate_for(params.data.task_type)[1]
    card = render_card(params, metrics, evaluate_gate(gate, metrics, None), data, schema)
    assert card == render_card(params, metrics, evaluate_gate(gate, metrics, None), data, schema)
    for expected in (
        "## Intended use",
        params.registry.intended_use.strip(),
        "ab" * 16,
        "| roc_auc | 0.81 |",
        "gate passed",
        "class_path: lightgbm.LGBMClassifier",
        "| age | float | yes |",
        *params.registry.limitations,
    ):
        assert expected in card
    assert "customer_id" not in card, "id columns are not features"
