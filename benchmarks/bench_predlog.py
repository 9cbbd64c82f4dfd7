"""The prediction log's cost: ``mmp serve`` /predict throughput with the log on (Parquet, the
default rotation) against off, same package, same load generator, same run (bench_serve's
single-record requests over keep-alive connections at concurrency 1, 8 and 32). Goal: the
``rps_on_vs_off`` ratio at least 0.9 at every level. After the logged server's SIGTERM, every
request it answered must be in the log (``rows_logged`` = ``requests_answered``)."""

from __future__ import annotations

import json
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.bench_serve import HOST, LEVELS, PACKAGE, WARMUP, env, free_port, measure, start

GOAL = 0.9


def run() -> dict[str, Any]:
    if not (PACKAGE / "MLmodel").is_file():
        raise SystemExit("benchmarks/bench_predlog.py needs models/package: run `make run` (or `dvc repro`) first")
    record = json.loads((PACKAGE / "artifacts" / "schema.json").read_text())["example"]
    body = json.dumps(record).encode()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        logdir = Path(tmp) / "log"
        for name, extra in (("off", {}), ("on", {"MMP_PREDICTION_LOG": str(logdir)})):
            results[name] = serve_and_measure(body, extra)
        import pandas as pd

        rows = len(pd.read_parquet(logdir))
    answered = sum(level["requests"] for level in results["on"].values()) + WARMUP
    results["log"] = {"rows_logged": rows, "requests_answered": answered}
    results["ratio"] = {f"c{c}": round(results["on"][f"c{c}"]["rps"] / results["off"][f"c{c}"]["rps"], 3) for c in LEVELS}
    results["meets_goal"] = all(r >= GOAL for r in results["ratio"].values()) and rows == answered
    return results


def serve_and_measure(body: bytes, extra: dict[str, str]) -> dict[str, Any]:
    port = free_port()
    cmd = [sys.executable, "-m", "mmp", "serve", "--model", str(PACKAGE), "--host", HOST, "--port", str(port), "--no-access-log"]
    proc = start(cmd, port, "/ready", {**env(), **extra})
    try:
        return measure(port, "/predict", body)
    finally:
        proc.send_signal(signal.SIGTERM)  # a clean shutdown: the log is flushed
        proc.wait(timeout=60)
