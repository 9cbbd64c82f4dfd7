"""``mmp predict --engine dask``: row groups scored on the cluster into an atomic partitioned
Parquet output whose rows equal the local engine's, and a worker killed mid-job."""

from __future__ import annotations

import os
import signal
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mmp.core.errors import MMPError
from mmp.inference.batch import Identity, file_chunks, score_to_file
from mmp.inference.dask_batch import score_on_cluster
from mmp.inference.scorer import Scorer
from tests.conftest import mmp
from tests.serving.conftest import sample_frame

IDENTITY = Identity("credit-default", "7", datetime(2024, 1, 1, tzinfo=UTC))


def write_input(path: Path, rows: int, row_group: int) -> Path:
    frame = sample_frame(rows, seed=11).drop(columns=["default"])
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, row_group_size=row_group)
    return path


def local_scores(package: Path, input_path: Path, out: Path) -> pd.DataFrame:
    chunks, total = file_chunks(input_path, 10_000)
    score_to_file(Scorer.from_package(package), chunks, out, IDENTITY, total, progress=False)
    return pd.read_parquet(out)


def test_dask_scores_equal_local_scores_row_for_row(client: Any, package_dir: Path, tmp_path: Path) -> None:
    source = write_input(tmp_path / "new.parquet", 300, row_group=70)  # 5 row groups: 5 tasks
    out = tmp_path / "scored"
    assert score_on_cluster(client, package_dir, source, out, IDENTITY) == 300
    parts = sorted(p.name for p in out.iterdir())
    assert parts == [f"part-{i:05d}.parquet" for i in range(5)]
    on_dask = pd.concat([pd.read_parquet(out / p) for p in parts], ignore_index=True)
    pd.testing.assert_frame_equal(on_dask, local_scores(package_dir, source, tmp_path / "local.parquet"))
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary directory left


def test_a_contract_breach_in_one_partition_leaves_no_output(client: Any, package_dir: Path, tmp_path: Path) -> None:
    frame = sample_frame(200, seed=3).drop(columns=["default"])
    frame.loc[150, "age"] = -5
    source = tmp_path / "bad.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), source, row_group_size=50)
    with pytest.raises(MMPError, match=r"column .age.: must be >= 18; 1 row\(s\), e.g. rows \[150\]"):
        score_on_cluster(client, package_dir, source, tmp_path / "scored", IDENTITY)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.parquet"]


def test_a_worker_killed_mid_job_is_retried_and_the_job_finishes(client: Any, package_dir: Path, tmp_path: Path) -> None:
    source = write_input(tmp_path / "new.parquet", 480, row_group=24)  # 20 tasks: the kill lands while most are still queued
    out = tmp_path / "scored"
    pids = client.run(os.getpid)
    victim = next(iter(pids.values()))
    killed = threading.Event()

    def kill_when_started() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not killed.is_set():
            temps = [p for p in tmp_path.iterdir() if p.name.startswith(".scored")]
            if temps and any(temps[0].glob("part-*")):
                os.kill(victim, signal.SIGKILL)
                killed.set()
            time.sleep(0.02)

    killer = threading.Thread(target=kill_when_started, daemon=True)
    killer.start()
    started = time.monotonic()
    rows = score_on_cluster(client, package_dir, source, out, IDENTITY)
    killer.join(5)
    assert killed.is_set(), "the job ended before a worker could be killed"
    assert rows == 480 and time.monotonic() - started < 120
    scored = pd.concat([pd.read_parquet(p) for p in sorted(out.glob("part-*.parquet"))], ignore_index=True)
    pd.testing.assert_frame_equal(scored, local_scores(package_dir, source, tmp_path / "local.parquet"))
    client.wait_for_workers(2, timeout=60)  # the nanny restarts the killed worker for the next tests


@pytest.mark.cli
def test_mmp_predict_engine_dask(dask_cluster: Any, package_dir: Path, tmp_path: Path) -> None:
    source = write_input(tmp_path / "new.parquet", 120, row_group=40)
    command = ("predict", "--model", str(package_dir), "--input", str(source), "--output", str(tmp_path / "scored"), "--engine", "dask")
    proc = mmp(*command, DASK_SCHEDULER_ADDRESS=dask_cluster.scheduler_address)  # the session's cluster, not a new one
    assert "scored 120 rows" in proc.stdout
    assert len(pd.read_parquet(tmp_path / "scored")) == 120


def test_predict_engine_dask_refuses_a_query_in_one_line(package_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from mmp.cli import main

    with pytest.raises(SystemExit) as stop:
        main(["predict", "--model", str(package_dir), "--query", "SELECT 1", "--output", "x", "--engine", "dask"])
    assert stop.value.code == 2
    assert capsys.readouterr().err.splitlines()[0] == (
        "error: --query: runs with --engine local only (allowed: --engine dask scores a Parquet --input into a Parquet directory)"
    )
