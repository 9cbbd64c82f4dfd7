"""The prediction log from the server and batch scoring: a real ``mmp serve`` under concurrent
load logs every request exactly once and loses nothing on SIGTERM; responses carry the request
id; ``mmp predict``'s path logs every row with one request id per chunk."""

from __future__ import annotations

import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
from fastapi.testclient import TestClient

from mmp.core.settings import ServingSettings
from mmp.data import prediction_log as L
from mmp.inference.predlog import open_log
from mmp.serving.app import create_app
from tests.conftest import ROOT, pipeline_env
from tests.serving.conftest import example_record, free_port, sample_frame, wait_ready

REQUESTS, CLIENTS = 160, 8


def test_every_request_is_logged_once_and_sigterm_loses_nothing(package_dir: Path, tmp_path: Path) -> None:
    port, logdir = free_port(), tmp_path / "log"
    cmd = [sys.executable, "-m", "mmp", "serve", "--model", str(package_dir), "--port", str(port), "--no-access-log"]
    # a long flush interval and age: nothing reaches a finished file before the SIGTERM
    env = pipeline_env(ROOT, MMP_PREDICTION_LOG=str(logdir), MMP_PREDICTION_LOG_MAX_SECONDS="3600")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url, record = f"http://127.0.0.1:{port}", example_record(package_dir)
    try:
        wait_ready(proc, url)

        def call(i: int, client: httpx.Client) -> tuple[str, int]:
            records = [record] * (1 + i % 3)  # 1 to 3 records per request
            headers = {"X-Request-ID": f"client-{i}"} if i % 2 else {}  # half send their own id
            answer = client.post(f"{url}/predict", json=records, headers=headers, timeout=30)
            assert answer.status_code == 200
            rid = answer.headers["x-request-id"]
            assert rid == f"client-{i}" if i % 2 else len(rid) == 32
            return rid, len(records)

        clients = [httpx.Client() for _ in range(CLIENTS)]
        with ThreadPoolExecutor(CLIENTS) as pool:
            sent = dict(pool.map(lambda i: call(i, clients[i % CLIENTS]), range(REQUESTS)))
        for client in clients:
            client.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode in (0, -signal.SIGTERM), out  # uvicorn re-raises the signal once shut down
    logged = L.read_parquet_log(logdir)
    assert not [p for p in logdir.iterdir() if p.name.startswith(".")], "no temporary file is left"
    assert logged.groupby(L.REQUEST_ID).size().to_dict() == sent  # every request, each once, with all its rows
    assert set(logged[L.VARIANT]) == {"champion"} and logged[L.SCORE].notna().all()
    assert f"prediction log closed: {sum(sent.values())} rows written" in out


def test_request_id_header_is_returned_and_a_bad_one_replaced(package_dir: Path, tmp_path: Path) -> None:
    app = create_app(str(package_dir), ServingSettings(), env={"MMP_PREDICTION_LOG": str(tmp_path / "log")})
    record = example_record(package_dir)
    with TestClient(app) as client:
        assert client.post("/predict", json=record, headers={"X-Request-ID": "order-17"}).headers["x-request-id"] == "order-17"
        replaced = client.post("/predict", json=record, headers={"X-Request-ID": "x" * 500}).headers["x-request-id"]
        assert len(replaced) == 32
        assert client.get("/metadata").json()["prediction_log"]["to"] == str(tmp_path / "log")
    assert sorted(pd.read_parquet(tmp_path / "log")[L.REQUEST_ID]) == sorted(["order-17", replaced])  # lifespan shutdown flushed


def test_batch_scoring_logs_every_row_with_one_request_id_per_chunk(tmp_path: Path, package_dir: Path) -> None:
    from mmp.core.settings import PredictionLogSettings
    from mmp.inference.batch import Identity, now, score_to_file
    from mmp.inference.scorer import Scorer

    scorer = Scorer.from_package(package_dir)
    frame = sample_frame(30).drop(columns=["default"])
    log = open_log(PredictionLogSettings(kind="parquet", path=str(tmp_path / "log")), scorer.schema)
    assert log is not None
    with log:
        score_to_file(
            scorer,
            iter([frame.iloc[:20], frame.iloc[20:]]),
            tmp_path / "out.parquet",
            Identity("m", "1", now()),
            progress=False,
            predlog=log,
        )
    logged, scored = pd.read_parquet(tmp_path / "log"), pd.read_parquet(tmp_path / "out.parquet")
    assert len(logged) == 30 and sorted(logged[L.REQUEST_ID].value_counts().tolist()) == [10, 20]
    assert logged[L.ENTITY_KEY].tolist() == frame["customer_id"].astype(str).tolist()
    assert np.allclose(logged[L.SCORE], scored["proba_1"])
