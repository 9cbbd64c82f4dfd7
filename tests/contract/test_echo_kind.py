"""A kind outside mmp (tests.kinds.echo, text in and text out, named by import path in its
metadata) is served and batch-scored by the unchanged ``mmp serve`` and ``mmp predict``; what it
cannot do (explain) is refused with one line naming its kind, never a 5xx or a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from mmp.core.settings import ServingSettings
from mmp.serving.app import as_json, create_app
from tests.conftest import ROOT
from tests.contract.conftest import Trained, kind_env


def test_as_json_carries_string_predictions() -> None:
    answers = np.asarray(["yes", "no"], dtype=object)
    assert as_json({"prediction": answers}) == {"predictions": ["yes", "no"]}
    assert as_json({"answer": answers, "source": np.asarray(["a", "b"], dtype=object)})["predictions"] == [
        {"answer": "yes", "source": "a"},
        {"answer": "no", "source": "b"},
    ]


def test_the_app_serves_a_kind_it_does_not_know(echo_package: Trained) -> None:
    app = create_app(str(echo_package.package), ServingSettings(), env={})
    with TestClient(app) as client:
        one = client.post("/predict", json={"question": "ping"})
        assert one.status_code == 200 and one.json()["predictions"] == ["echo: ping"]
        many = client.post("/invoke", json=[{"question": "a"}, {"question": "b"}]).json()
        assert many["predictions"] == ["echo: a", "echo: b"]
        assert client.get("/metadata").json()["kind"] == "echo"
        refused = client.post("/explain", json={"question": "ping"})
        assert refused.status_code == 422
        assert refused.json()["detail"]["message"].startswith("explain: model kind echo has no explanations")
        assert client.post("/predict", json={"question": 3}).status_code == 422  # the schema still types requests


def mmp_predict(package: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "mmp", "predict", "--model", str(package), "--no-progress", *args]
    return subprocess.run(cmd, cwd=ROOT, env=kind_env(), capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_mmp_predict_scores_a_kind_it_does_not_know_and_refuses_to_explain_it(echo_package: Trained, tmp_path: Path) -> None:
    rows = echo_package.rows
    rows.to_parquet(tmp_path / "in.parquet")
    done = mmp_predict(echo_package.package, "--input", str(tmp_path / "in.parquet"), "--output", str(tmp_path / "out.parquet"))
    assert done.returncode == 0, done.stderr
    scored = pd.read_parquet(tmp_path / "out.parquet")
    assert scored["prediction"].tolist() == ["echo: ping", "echo: héllo", "echo: "]
    assert echo_package.model.evaluate(rows) == {"exact_match": 2 / 3}

    refused = mmp_predict(
        echo_package.package, "--input", str(tmp_path / "in.parquet"), "--output", str(tmp_path / "x.parquet"), "--explain"
    )
    assert refused.returncode != 0 and not (tmp_path / "x.parquet").exists()
    first = refused.stderr.strip().splitlines()[0]
    assert first == "error: --explain: model kind echo has no explanations (allowed: a model kind with explain_columns (tabular))"
    assert "Traceback" not in refused.stderr


def test_the_mirror_reads_the_kind_a_package_names(echo_package: Trained) -> None:
    from mmp.ops.tracking.payload import model_kind

    assert model_kind(echo_package.package) == "tests.kinds.echo:EchoModel"  # the run and version tag mmp.model.kind
