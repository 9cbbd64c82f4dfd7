"""``mmp predict``: files, directories and SQL in; scored, atomic files out; contract breaches
refused with rows and columns named; a killed scorer leaves no output file."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mmp.inference.scorer import Scorer, typed_columns
from tests.conftest import ROOT, mmp, pipeline_env
from tests.serving.conftest import sample_frame

OUTPUT_COLUMNS = ["customer_id", "prediction", "proba_0", "proba_1", "model_name", "model_version", "scored_at"]


def expected(package_dir: Path, frame: pd.DataFrame) -> pd.DataFrame:
    return Scorer.from_package(package_dir).predict(frame)


def test_scores_a_parquet_file_in_chunks(package_dir: Path, tmp_path: Path) -> None:
    frame = sample_frame(1000, seed=11)
    frame.to_parquet(tmp_path / "in.parquet")
    proc = mmp(
        "predict",
        "--model",
        str(package_dir),
        "--input",
        str(tmp_path / "in.parquet"),
        "--output",
        str(tmp_path / "out.parquet"),
        "--chunksize",
        "128",
        "--log",
        str(tmp_path / "log"),
        SOURCE_DATE_EPOCH="1700000000",
    )
    assert "scored 1000 rows" in proc.stdout and "rows/s" in proc.stderr  # the progress bar
    assert f"logged 1000 rows to {tmp_path / 'log'}" in proc.stderr
    logged = pd.read_parquet(tmp_path / "log")  # the prediction log: every row, one request id per chunk
    assert len(logged) == 1000 and logged["mmp_request_id"].nunique() == 8
    assert logged["mmp_entity_key"].tolist() == frame["customer_id"].astype(str).tolist()
    out = pd.read_parquet(tmp_path / "out.parquet")
    assert list(out.columns) == OUTPUT_COLUMNS
    assert out["customer_id"].tolist() == frame["customer_id"].tolist()
    want = expected(package_dir, frame)
    np.testing.assert_allclose(out["proba_1"], want["proba_1"], rtol=1e-12)
    assert out["prediction"].tolist() == want["prediction"].tolist()
    assert set(out["model_name"]) == {"package"} and out["model_version"].str.len().eq(32).all()
    assert set(out["scored_at"]) == {pd.Timestamp(1700000000, unit="s", tz="UTC")}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.parquet", "log", "out.parquet"]  # no temporary left


def test_explain_adds_contributions_by_raw_column(package_dir: Path, tmp_path: Path) -> None:
    """``--explain --top-k 3``, chunked: each row's three largest contributions by raw column, as
    the scorer computes them (every column and the additivity: tests/serving/test_explain.py)."""
    frame = sample_frame(300, seed=14)
    frame.to_parquet(tmp_path / "in.parquet")
    mmp(
        *("predict", "--model", str(package_dir), "--input", str(tmp_path / "in.parquet"), "--chunksize", "64", "--no-progress"),
        *("--output", str(tmp_path / "top.csv"), "--explain", "--top-k", "3"),
    )
    top = pd.read_csv(tmp_path / "top.csv")
    assert [c for c in top.columns if c.startswith("top")] == [f"top{i}_{p}" for i in (1, 2, 3) for p in ("column", "contribution")]
    scorer = Scorer.from_package(package_dir)
    _, explanation = scorer.explain_columns(typed_columns(frame, scorer.schema), len(frame))
    assert top["top1_column"].tolist() == [explanation.top(i, 1)[0][0] for i in range(len(frame))]
    np.testing.assert_allclose(top["raw_score"], explanation.raw_score, atol=1e-9)
    assert set(top["explain_method"]) == {"lightgbm_pred_contrib"}
    from mmp.cli.predict import explain_columns
    from mmp.core.errors import MMPError

    with pytest.raises(MMPError, match="--top-k: needs --explain"):
        explain_columns(False, 3)
    with pytest.raises(MMPError, match="an integer from 1 to 100"):
        explain_columns(True, 0)


def test_scores_a_csv_directory_to_csv(package_dir: Path, tmp_path: Path) -> None:
    frame = sample_frame(300, seed=12)
    (tmp_path / "in").mkdir()
    frame.iloc[:100].to_csv(tmp_path / "in" / "a.csv", index=False)
    frame.iloc[100:].to_csv(tmp_path / "in" / "b.csv", index=False)
    mmp("predict", "--model", str(package_dir), "--input", str(tmp_path / "in"), "--output", str(tmp_path / "out.csv"), "--no-progress")
    out = pd.read_csv(tmp_path / "out.csv")
    assert list(out.columns) == OUTPUT_COLUMNS and len(out) == 300
    np.testing.assert_allclose(out["proba_1"], expected(package_dir, frame)["proba_1"], rtol=1e-9)


@pytest.mark.integration
def test_scores_a_sql_query_with_bound_parameters(package_dir: Path, tmp_path: Path, pg_url: str) -> None:
    from sqlalchemy import create_engine

    frame = sample_frame(500, seed=13)
    engine = create_engine(pg_url)
    frame.to_sql("applications", engine, index=False)
    engine.dispose()
    query = "SELECT * FROM applications WHERE region = :region AND loan_amount >= :min_amount ORDER BY customer_id"
    mmp(
        "predict",
        "--model",
        str(package_dir),
        "--query",
        query,
        "--param",
        "region=south",
        "--param",
        "min_amount=5000",
        "--output",
        str(tmp_path / "out.parquet"),
        "--chunksize",
        "50",
        MMP_DB_URL=pg_url,
    )
    out = pd.read_parquet(tmp_path / "out.parquet")
    subset = frame[(frame["region"] == "south") & (frame["loan_amount"] >= 5000)].sort_values("customer_id")
    assert out["customer_id"].tolist() == subset["customer_id"].tolist() and len(out) > 20
    np.testing.assert_allclose(out["proba_1"], expected(package_dir, subset)["proba_1"], rtol=1e-9)
    bad = mmp(
        "predict",
        "--model",
        str(package_dir),
        "--query",
        "SELECT * FROM no_such_table",
        "--output",
        str(tmp_path / "x.parquet"),
        check=False,
        MMP_DB_URL=pg_url,
    )
    assert bad.returncode == 2 and "--query: the query failed" in bad.stderr and not (tmp_path / "x.parquet").exists()


def test_refuses_contract_breaking_input_naming_rows_and_columns(package_dir: Path, tmp_path: Path) -> None:
    frame = sample_frame(400, seed=14)
    frame.loc[250, "age"] = 7.0
    frame.loc[390, "region"] = "mars"
    frame = frame.drop(columns=["num_late_payments"])
    frame.to_parquet(tmp_path / "in.parquet")
    proc = mmp(
        "predict",
        "--model",
        str(package_dir),
        "--input",
        str(tmp_path / "in.parquet"),
        "--output",
        str(tmp_path / "out.parquet"),
        "--chunksize",
        "200",
        check=False,
    )
    assert proc.returncode == 2
    assert "column 'num_late_payments': required by the data contract but missing" in proc.stderr
    frame = sample_frame(400, seed=14)
    frame.loc[250, "age"] = 7.0
    frame.loc[390, "region"] = "mars"
    frame.to_parquet(tmp_path / "in.parquet")
    proc = mmp(
        "predict",
        "--model",
        str(package_dir),
        "--input",
        str(tmp_path / "in.parquet"),
        "--output",
        str(tmp_path / "out.parquet"),
        "--chunksize",
        "200",
        check=False,
    )
    assert proc.returncode == 2
    assert "column 'age': must be >= 18; 1 row(s), e.g. rows [250]" in proc.stderr  # rows counted across chunks
    assert not (tmp_path / "out.parquet").exists() and not list(tmp_path.glob(".out*"))


def test_bad_arguments_are_one_clear_error(package_dir: Path, tmp_path: Path) -> None:
    proc = mmp(
        "predict",
        "--model",
        str(package_dir),
        "--input",
        str(tmp_path / "none.parquet"),
        "--output",
        str(tmp_path / "o.parquet"),
        check=False,
    )
    assert proc.returncode == 2 and "--input" in proc.stderr and "does not exist" in proc.stderr
    sample_frame(10).to_parquet(tmp_path / "in.parquet")
    proc = mmp(
        "predict", "--model", str(package_dir), "--input", str(tmp_path / "in.parquet"), "--output", str(tmp_path / "o.xlsx"), check=False
    )
    assert proc.returncode == 2 and "--output" in proc.stderr and ".parquet" in proc.stderr


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_a_killed_scorer_leaves_no_output_file(package_dir: Path, tmp_path: Path, sig: signal.Signals) -> None:
    frame = sample_frame(2000, seed=15)
    pd.concat([frame] * 40, ignore_index=True).to_parquet(tmp_path / "in.parquet")  # 80k rows
    out = tmp_path / "out.parquet"
    cmd = [
        sys.executable,
        "-m",
        "mmp",
        "predict",
        "--model",
        str(package_dir),
        "--input",
        str(tmp_path / "in.parquet"),
        "--output",
        str(out),
        "--chunksize",
        "200",
        "--no-progress",
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=pipeline_env(ROOT), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(".out.parquet.tmp-*")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(0.3)  # well into writing
    assert proc.poll() is None, "the scorer finished before it could be killed: make the input bigger"
    os.kill(proc.pid, sig)
    proc.wait(timeout=60)
    assert proc.returncode != 0
    assert not out.exists(), "a killed scorer must not leave an output file"
    if sig == signal.SIGTERM:  # catchable: the temporary file is cleaned up as well
        assert not list(tmp_path.glob(".out.parquet.tmp-*"))
    else:  # SIGKILL leaves it, and the next run to the same output removes it
        assert list(tmp_path.glob(".out.parquet.tmp-*"))
        frame.head(10).to_parquet(tmp_path / "small.parquet")
        mmp("predict", "--model", str(package_dir), "--input", str(tmp_path / "small.parquet"), "--output", str(out), "--no-progress")
        assert len(pd.read_parquet(out)) == 10
        assert not list(tmp_path.glob(".out.parquet.tmp-*")), "the killed run's temporary file is left"


def test_a_query_that_cannot_run_is_one_line(package_dir: Path, tmp_path: Path) -> None:
    """A database URL without its driver installed (and, in-process, every other SQL failure in
    tests/unit/test_db.py) ends in one line naming --db-url, no traceback, no password."""
    out = tmp_path / "o.parquet"
    args = [
        "predict",
        "--model",
        str(package_dir),
        "--query",
        "SELECT 1",
        "--db-url",
        "mysql://u:s3cret@127.0.0.1/db",
        "--output",
        str(out),
    ]
    proc = mmp(*args, check=False)
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert proc.returncode == 2 and errors == [
        "error: --db-url: the driver for mysql:// is not installed (module MySQLdb) (allowed: install it, "
        "or e.g. sqlite:///file.db or postgresql://user@host/db)"
    ], proc.stderr
    assert "Traceback" not in proc.stderr and "s3cret" not in proc.stderr and not out.exists()


def register(package_dir: Path, store: Path) -> str:
    """``package_dir`` as version 1 of ``credit-default`` with alias ``champion`` in a SQLite
    registry under ``store``; returns the tracking URI."""
    from mlflow import MlflowClient

    uri = f"sqlite:///{store}/mlflow.db"
    client = MlflowClient(uri)
    experiment = client.create_experiment("predict-test", artifact_location=(store / "artifacts").as_uri())
    run = client.create_run(experiment)
    client.log_artifacts(run.info.run_id, str(package_dir), "model")
    client.create_registered_model("credit-default")
    mv = client.create_model_version("credit-default", f"{run.info.artifact_uri}/model", run_id=run.info.run_id)
    client.set_registered_model_alias("credit-default", "champion", mv.version)
    return uri


def test_a_registry_model_leaves_no_download_behind(package_dir: Path, tmp_path: Path) -> None:
    """Each ``models:/`` load used to leave a 1 MB ``mmp-model-*`` directory in the temp folder."""
    uri = register(package_dir, tmp_path / "store")
    sample_frame(50, seed=3).to_parquet(tmp_path / "in.parquet")
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    args = ["--model", "models:/credit-default@champion", "--input", str(tmp_path / "in.parquet"), "--no-progress"]
    proc = mmp("predict", *args, "--output", str(tmp_path / "out.parquet"), MLFLOW_TRACKING_URI=uri, TMPDIR=str(tmpdir))
    assert "scored 50 rows with credit-default version 1" in proc.stdout
    assert not list(tmpdir.glob("mmp-model-*")), "the downloaded model is removed once loaded"


def test_a_dead_tracking_server_fails_in_seconds_with_one_line(tmp_path: Path) -> None:
    """MLflow's HTTP retries used to keep `mmp predict` silent for 254 s."""
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    start = time.monotonic()
    proc = mmp(
        "predict",
        *("--model", "models:/credit-default@champion", "--input", str(tmp_path / "in.parquet"), "--output", str(tmp_path / "o.parquet")),
        check=False,
        MLFLOW_TRACKING_URI=f"http://user:secret@127.0.0.1:{port}",
    )
    elapsed = time.monotonic() - start
    assert proc.returncode != 0 and elapsed < 15, (proc.returncode, elapsed)
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and f"127.0.0.1:{port} is unreachable" in errors[0], proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 2  # + the --debug hint
    assert "secret" not in proc.stderr
