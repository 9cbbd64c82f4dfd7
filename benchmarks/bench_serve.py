"""Serving and batch scoring speed, measured against the alternatives in one run.

1. ``mmp serve`` /predict vs ``mlflow models serve --env-manager local`` on the same package
   (models/package, from ``dvc repro``), one worker each, single-record requests at concurrency
   1, 8 and 32: requests/s, p50 and p99. The load generator keeps one HTTP/1.1 keep-alive
   connection per concurrent client and is bounded by a request count and a time limit.
2. Batch scoring rows/s (``mmp.inference.batch``: read Parquet, contract check, score, write Parquet) vs
   the packaged model's own ``predict`` on the same 1M rows in memory, and vs the raw estimator's
   ``predict_proba`` on pre-featurized rows.
3. Peak memory (max RSS) of ``mmp predict`` on 1M rows vs 10M rows.
Servers and the load generator run on 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "models" / "package"
HOST = "127.0.0.1"
LEVELS = {1: 1500, 8: 3000, 32: 4000}  # concurrency -> requests
TIME_LIMIT = 30.0  # seconds per load level
WARMUP = 200


def run() -> dict[str, Any]:
    if not (PACKAGE / "MLmodel").is_file():
        raise SystemExit("benchmarks/bench_serve.py needs models/package: run `make run` (or `dvc repro`) first")
    return {"serve": serve_comparison(), "batch": batch_throughput(), "memory": peak_memory()}


# -- 1. HTTP serving ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def env() -> dict[str, str]:
    out = dict(os.environ)
    out["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{out.get('PATH', '')}"
    out["PYTHONPATH"] = str(ROOT / "src")
    out.pop("MMP_API_TOKEN", None)
    return out


def start(cmd: list[str], port: int, ready_path: str, environ: dict[str, str] | None = None) -> subprocess.Popen:
    proc = subprocess.Popen(cmd, cwd=ROOT, env=environ or env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            status, _ = asyncio.run(_one(port, "GET", ready_path, b""))
            if status == 200:
                return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"{cmd[:4]} did not become ready on port {port}")


async def _one(port: int, method: str, path: str, body: bytes) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        writer.write(_request(method, path, body))
        return await _response(reader)
    finally:
        writer.close()


def _request(method: str, path: str, body: bytes) -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n"
    return head.encode() + body


async def _response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
    return int(lines[0].split()[1]), await reader.readexactly(int(headers["content-length"]))


async def load(port: int, path: str, body: bytes, concurrency: int, requests: int) -> dict[str, Any]:
    """``requests`` POSTs over ``concurrency`` keep-alive connections, within TIME_LIMIT."""
    latencies: list[float] = []
    errors = 0
    remaining = requests
    deadline = time.perf_counter() + TIME_LIMIT
    message = _request("POST", path, body)

    async def client() -> None:
        nonlocal remaining, errors
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            while remaining > 0 and time.perf_counter() < deadline:
                remaining -= 1
                started = time.perf_counter()
                writer.write(message)
                status, _ = await _response(reader)
                latencies.append(time.perf_counter() - started)
                errors += status != 200
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    pct = lambda q: round(latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000, 2)  # noqa: E731
    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": round(len(latencies) / elapsed, 1),
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
    }


def measure(port: int, path: str, body: bytes) -> dict[str, Any]:
    asyncio.run(load(port, path, body, 4, WARMUP))
    return {f"c{c}": asyncio.run(load(port, path, body, c, n)) for c, n in LEVELS.items()}


def serve_comparison() -> dict[str, Any]:
    record = json.loads((PACKAGE / "artifacts" / "schema.json").read_text())["example"]
    servers = {
        "mmp": ([sys.executable, "-m", "mmp", "serve", "--model", str(PACKAGE), "--workers", "1"], "/ready", "/predict", record),
        "mlflow": (
            [sys.executable, "-m", "mlflow", "models", "serve", "-m", str(PACKAGE), "--env-manager", "local", "-w", "1"],
            "/ping",
            "/invocations",
            {"dataframe_records": [record]},
        ),
    }
    results: dict[str, Any] = {}
    for name, (cmd, ready, path, payload) in servers.items():
        port = free_port()
        cmd = [*cmd, "--host", HOST, "--port", str(port)] if name == "mmp" else [*cmd, "-h", HOST, "-p", str(port)]
        proc = start(cmd, port, ready)
        try:
            results[name] = measure(port, path, json.dumps(payload).encode())
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    for level in LEVELS:
        mmp, mlflow = results["mmp"][f"c{level}"], results["mlflow"][f"c{level}"]
        results[f"ratio_c{level}"] = {
            "rps_x": round(mmp["rps"] / mlflow["rps"], 2),
            "p99_fraction": round(mmp["p99_ms"] / mlflow["p99_ms"], 3),
        }
    return results


# -- 2. batch throughput -----------------------------------------------------------------------


def synthetic_parquet(path: Path, rows: int, part: int = 1_000_000) -> None:
    """Raw input rows written part by part (the generator itself stays bounded in memory)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from mmp.data.synthetic import credit_default

    writer = None
    for i, start_row in enumerate(range(0, rows, part)):
        frame = credit_default(min(part, rows - start_row), seed=100 + i).drop(columns=["default"])
        frame["customer_id"] += start_row
        table = pa.Table.from_pandas(frame, preserve_index=False)
        writer = writer or pq.ParquetWriter(path, table.schema, compression="zstd")
        writer.write_table(table)
    writer.close()


def batch_throughput(rows: int = 1_000_000) -> dict[str, Any]:
    import warnings

    import mlflow.pyfunc
    import pandas as pd

    from mmp.inference.batch import Identity, file_chunks, now, score_to_file
    from mmp.inference.scorer import Scorer
    from mmp.modeling.features import transform

    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "in.parquet"
        synthetic_parquet(source, rows)
        scorer = Scorer.from_package(PACKAGE)
        started = time.perf_counter()
        chunks, total = file_chunks(source, 100_000)
        score_to_file(scorer, chunks, Path(tmp) / "out.parquet", Identity("bench", "1", now()), total, progress=False)
        batch_s = time.perf_counter() - started

        frame = pd.read_parquet(source)
        pyfunc = mlflow.pyfunc.load_model(str(PACKAGE))
        started = time.perf_counter()
        pyfunc.predict(frame)
        pyfunc_s = time.perf_counter() - started
        X = transform(scorer.featurizer, frame)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            started = time.perf_counter()
            scorer.model.predict_proba(X)
            raw_s = time.perf_counter() - started
    return {
        "rows": rows,
        "mmp_batch_rows_per_s": round(rows / batch_s),
        "pyfunc_predict_rows_per_s": round(rows / pyfunc_s),
        "raw_model_predict_proba_rows_per_s": round(rows / raw_s),
        "batch_vs_pyfunc_predict": round(pyfunc_s / batch_s, 3),
        "batch_vs_raw_model_predict": round(raw_s / batch_s, 3),
    }


# -- 3. peak memory ----------------------------------------------------------------------------

MAXRSS = "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"


def peak_memory(sizes: tuple[int, ...] = (1_000_000, 10_000_000)) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for rows in sizes:
            source = Path(tmp) / f"in-{rows}.parquet"
            synthetic_parquet(source, rows)
            cmd = [
                sys.executable,
                "-m",
                "mmp",
                "predict",
                "--model",
                str(PACKAGE),
                "--input",
                str(source),
                "--output",
                str(Path(tmp) / "out.parquet"),
                "--no-progress",
            ]
            started = time.perf_counter()
            proc = subprocess.run(
                [sys.executable, "-c", MAXRSS, *cmd], cwd=ROOT, env=env(), capture_output=True, text=True, timeout=1800, check=True
            )
            out[f"rows_{rows}"] = {
                "peak_rss_mb": round(int(proc.stdout.strip().splitlines()[-1]) / 1024),
                "seconds": round(time.perf_counter() - started, 1),
            }
            source.unlink()
    first, last = (out[f"rows_{n}"]["peak_rss_mb"] for n in (sizes[0], sizes[-1]))
    out["peak_ratio_largest_vs_smallest"] = round(last / first, 3)
    return out
