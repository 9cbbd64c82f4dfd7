"""Serving, pyfunc and batch scoring speed, measured against the alternatives in one run.

1. ``mmp serve`` /predict vs ``mlflow models serve --env-manager local`` on the same package
   (models/package, from ``dvc repro``), one worker each, single-record requests at concurrency
   1, 8 and 32: requests/s, p50 and p99. In the same ``mmp serve`` process, the constant-JSON
   ``/health`` at the same levels: the cost of HTTP alone (goal: /predict at least 70% of its
   requests/s at concurrency 8). Then 60 s of /predict at concurrency 32 (goal: no errors).
   The load generator is wrk when it is installed (``apt-get install wrk``), else a Python
   generator with one HTTP/1.1 keep-alive connection per client (the result names which).
2. The packaged model through plain ``mlflow.pyfunc.load_model(...).predict`` on one row (goal:
   under 2 ms), beside the Scorer alone (the rest is MLflow's schema enforcement); the answers
   must be equal.
3. ``mmp predict`` on 1M raw rows vs the script a user writes with the same fitted featurizer
   and model (``benchmarks/user_batch_script.py``), both as fresh processes, I/O included
   (goal: at least as fast), with equal probabilities; the in-memory figures of before.
4. Peak memory (max RSS) of ``mmp predict`` on 1M vs 10M rows (goal: at most 1 GiB).
Servers and the load generator run on 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "models" / "package"
HOST = "127.0.0.1"
LEVELS = (1, 8, 32)  # concurrent clients
SECONDS = 10.0  # per load level
SOAK_SECONDS = 60.0
WARMUP_SECONDS = 2.0
GOALS = {"predict_vs_constant_c8": 0.7, "pyfunc_one_row_ms": 2.0, "batch_vs_user_script": 1.0, "peak_rss_mb": 1024}


def run() -> dict[str, Any]:
    if not (PACKAGE / "MLmodel").is_file():
        raise SystemExit("benchmarks/bench_serve.py needs models/package: run `make run` (or `dvc repro`) first")
    out: dict[str, Any] = {}
    for name, section in (("serve", serve_comparison), ("pyfunc", pyfunc_one_row), ("batch", batch_throughput), ("memory", peak_memory)):
        out[name] = section()
        print(f"{name}: {json.dumps(out[name])}", file=sys.stderr, flush=True)  # a long run shows each part as it ends
    out["goals"] = goals(out)
    return out


def goals(out: dict[str, Any]) -> dict[str, Any]:
    """Each goal with its figure and whether it is met."""
    figures = {
        "predict_vs_constant_c8": (out["serve"]["ratio_c8"]["predict_vs_constant"], ">="),
        "soak_errors": (out["serve"]["soak_c32"]["errors"], "== 0"),
        "pyfunc_one_row_ms": (out["pyfunc"]["pyfunc_p50_ms"], "<"),
        "batch_vs_user_script": (out["batch"]["mmp_predict_vs_user_script"], ">="),
        "peak_rss_mb": (max(v["peak_rss_mb"] for k, v in out["memory"].items() if k.startswith("rows_")), "<="),
    }
    result = {}
    for name, (value, rule) in figures.items():
        goal = GOALS.get(name, 0)
        met = {">=": value >= goal, "<": value < goal, "<=": value <= goal, "== 0": value == 0}[rule]
        result[name] = {"value": value, "goal": f"{rule} {goal}" if rule != "== 0" else rule, "met": met}
    return result


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


def load_generator() -> str:
    """``wrk <version>`` when wrk is on PATH, else ``python`` (said once, on stderr)."""
    wrk = shutil.which("wrk")
    if wrk is None:
        print("wrk is not installed (apt-get install wrk): using the Python load generator, which is slower", file=sys.stderr)
        return "python"
    out = subprocess.run([wrk, "--version"], capture_output=True, text=True)
    return " ".join((out.stdout or out.stderr).split()[:2])


def load(port: int, method: str, path: str, body: bytes, concurrency: int, seconds: float, tool: str) -> dict[str, Any]:
    """``concurrency`` keep-alive clients sending requests back to back for ``seconds``."""
    if tool.startswith("wrk"):
        return wrk_load(port, method, path, body, concurrency, seconds)
    return asyncio.run(python_load(port, method, path, body, concurrency, seconds))


def wrk_load(port: int, method: str, path: str, body: bytes, concurrency: int, seconds: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "body.json").write_bytes(body)
        script = Path(tmp) / "request.lua"
        script.write_text(
            f'wrk.method = "{method}"\nwrk.headers["Content-Type"] = "application/json"\n'
            f'local f = io.open("{Path(tmp) / "body.json"}", "rb"); wrk.body = f:read("*a"); f:close()\n'
        )
        cmd = [
            "wrk",
            "-t1",
            f"-c{concurrency}",
            f"-d{max(1, round(seconds))}s",
            "--latency",
            "--timeout",  # a slow answer on a loaded machine is latency (p99), not an error
            "10s",
            "-s",
            str(script),
            f"http://{HOST}:{port}{path}",
        ]
        text = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
    return parse_wrk(text)


def parse_wrk(text: str) -> dict[str, Any]:
    """Requests, errors (non-2xx answers and socket errors), requests/s, p50 and p99 (ms)."""

    def ms(value: str) -> float:
        number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()  # type: ignore[union-attr]
        return round(float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit], 3)

    requests = int(re.search(r"(\d+) requests in", text).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    errors = (int(non_2xx.group(1)) if non_2xx else 0) + (sum(map(int, sockets.groups())) if sockets else 0)  # timeouts too
    pcts = dict(re.findall(r"^\s*(50|99)\.?0*%\s+(\S+)\s*$", text, flags=re.M))
    if set(pcts) != {"50", "99"}:
        raise RuntimeError(f"wrk printed no latency distribution:\n{text}")
    return {
        "requests": requests,
        "errors": errors,
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)),  # type: ignore[union-attr]
        "p50_ms": ms(pcts["50"]),
        "p99_ms": ms(pcts["99"]),
    }


async def python_load(port: int, method: str, path: str, body: bytes, concurrency: int, seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    message = _request(method, path, body)

    async def client() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            while time.perf_counter() < deadline:
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
    pct = lambda q: round(latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000, 3)  # noqa: E731
    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": round(len(latencies) / elapsed, 1),
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
    }


def mmp_loads(
    package: Path, record: dict[str, Any], tool: str, seconds: float, soak_seconds: float, warmup: float = WARMUP_SECONDS
) -> dict[str, Any]:
    """One ``mmp serve`` process: /predict and the constant-JSON /health at each level
    (interleaved, so both see the same machine), then the soak at concurrency 32."""
    body = json.dumps(record).encode()
    port = free_port()
    cmd = [sys.executable, "-m", "mmp", "serve", "--model", str(package), "--workers", "1", "--host", HOST, "--port", str(port)]
    proc = start(cmd, port, "/ready")
    results: dict[str, Any] = {"mmp": {}, "constant": {}}
    try:
        load(port, "POST", "/predict", body, 4, warmup, tool)
        for c in LEVELS:
            results["mmp"][f"c{c}"] = server_load(proc.pid, port, "POST", "/predict", body, c, seconds, tool)
            results["constant"][f"c{c}"] = server_load(proc.pid, port, "GET", "/health", b"", c, seconds, tool)
        results["soak_c32"] = {"seconds": soak_seconds, **load(port, "POST", "/predict", body, 32, soak_seconds, tool)}
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return results


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of process ``pid`` so far (None without Linux's /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime (fields 14, 15)


def server_load(pid: int, port: int, method: str, path: str, body: bytes, concurrency: int, seconds: float, tool: str) -> dict[str, Any]:
    """:func:`load`, plus the server's CPU time per request (``cpu_us``). On a shared machine the
    requests/s of a level move with the other jobs' load (and the load generator's share of the
    cores), while the server's own CPU time per request moves far less: the ratio of two
    endpoints' CPU times is the steadier comparison."""
    before = cpu_seconds(pid)
    out = load(port, method, path, body, concurrency, seconds, tool)
    after = cpu_seconds(pid)
    out["cpu_us"] = None if before is None or after is None else round((after - before) / max(out["requests"], 1) * 1e6, 1)
    return out


def serve_comparison(seconds: float = SECONDS, soak_seconds: float = SOAK_SECONDS) -> dict[str, Any]:
    """mmp's /predict and /health, then MLflow's /invocations: each level in turn, one run."""
    record = json.loads((PACKAGE / "artifacts" / "schema.json").read_text())["example"]
    tool = load_generator()
    results: dict[str, Any] = {"load_generator": tool, "seconds_per_level": seconds}
    results.update(mmp_loads(PACKAGE, record, tool, seconds, soak_seconds))
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "mlflow",
        "models",
        "serve",
        "-m",
        str(PACKAGE),
        "--env-manager",
        "local",
        "-w",
        "1",
        "-h",
        HOST,
        "-p",
        str(port),
    ]
    proc = start(cmd, port, "/ping")
    try:
        payload = json.dumps({"dataframe_records": [record]}).encode()
        load(port, "POST", "/invocations", payload, 4, WARMUP_SECONDS, tool)
        results["mlflow"] = {f"c{c}": load(port, "POST", "/invocations", payload, c, seconds, tool) for c in LEVELS}
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    for c in LEVELS:
        mmp, mlflow, constant = (results[k][f"c{c}"] for k in ("mmp", "mlflow", "constant"))
        results[f"ratio_c{c}"] = {
            "rps_x": round(mmp["rps"] / mlflow["rps"], 2),
            "p99_fraction": round(mmp["p99_ms"] / mlflow["p99_ms"], 3),
            "predict_vs_constant": round(mmp["rps"] / constant["rps"], 3),
            # the same comparison by the server's CPU time per request (see server_load)
            "predict_vs_constant_cpu": round(constant["cpu_us"] / mmp["cpu_us"], 3) if mmp["cpu_us"] and constant["cpu_us"] else None,
        }
    return results


# -- 2. the pyfunc on one row ------------------------------------------------------------------


def pyfunc_one_row(calls: int = 2000) -> dict[str, Any]:
    """Median and p99 of one-row calls: plain MLflow's pyfunc, and the Scorer it wraps."""
    import mlflow.pyfunc
    import pandas as pd

    from mmp.inference.pyfunc import example_frame

    model = mlflow.pyfunc.load_model(str(PACKAGE))
    scorer = model.unwrap_python_model().scorer
    row = example_frame(scorer.schema)
    pd.testing.assert_frame_equal(model.predict(row), scorer.predict(row))  # the same answer
    out: dict[str, Any] = {"backend": scorer.backend}
    for name, call in (("pyfunc", lambda: model.predict(row)), ("scorer", lambda: scorer.predict(row))):
        for _ in range(100):
            call()
        times, cpu = [], []
        for _ in range(calls):
            started, started_cpu = time.perf_counter_ns(), time.thread_time_ns()
            call()
            cpu.append((time.thread_time_ns() - started_cpu) / 1e6)
            times.append((time.perf_counter_ns() - started) / 1e6)
        times.sort()
        out[f"{name}_p50_ms"] = round(statistics.median(times), 3)
        out[f"{name}_p99_ms"] = round(times[int(0.99 * len(times))], 3)
        # this thread's CPU time (one row scores on one thread): what the call costs, without
        # the waits for a core that inflate the wall time on a loaded machine
        out[f"{name}_cpu_p50_ms"] = round(statistics.median(cpu), 3)
    return out


# -- 3. batch scoring against the user's script ----------------------------------------------


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


MAXRSS = (
    "import resource, subprocess, sys, time; t = time.perf_counter(); subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL);"
    "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def timed(cmd: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (MiB) of a command, measured by a fresh wrapper process."""
    proc = subprocess.run(
        [sys.executable, "-c", MAXRSS, *cmd], cwd=ROOT, env=env(), capture_output=True, text=True, timeout=1800, check=True
    )
    seconds, rss = proc.stdout.split()[-2:]
    return float(seconds), round(int(rss) / 1024)


def mmp_predict(source: Path, output: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "mmp",
        "predict",
        "--model",
        str(PACKAGE),
        "--input",
        str(source),
        "--output",
        str(output),
        "--no-progress",
    ]


def batch_throughput(rows: int = 1_000_000, repeats: int = 2) -> dict[str, Any]:
    """``mmp predict`` and the user's script, each a fresh process reading and writing Parquet,
    alternated ``repeats`` times (best of each); then their probabilities compared."""
    import numpy as np
    import pandas as pd

    with tempfile.TemporaryDirectory() as tmp:
        source, ours, theirs = Path(tmp) / "in.parquet", Path(tmp) / "mmp.parquet", Path(tmp) / "script.parquet"
        synthetic_parquet(source, rows)
        script = [sys.executable, "-m", "benchmarks.user_batch_script", str(PACKAGE), str(source), str(theirs)]
        runs: dict[str, list[float]] = {"mmp": [], "script": []}
        for _ in range(repeats):
            runs["script"].append(timed(script)[0])
            runs["mmp"].append(timed(mmp_predict(source, ours))[0])
        a, b = pd.read_parquet(ours), pd.read_parquet(theirs)
        probas = [c for c in b.columns if c.startswith("proba_")]
        assert a["customer_id"].tolist() == b["customer_id"].tolist()
        # The script hands LightGBM sklearn's float64 features; the pipeline trained and scores
        # on float32 ones, so a value within float32 rounding of a split threshold may differ.
        diff = np.abs(a[probas].to_numpy() - b[probas].to_numpy()).max(axis=1)
    mmp_s, script_s = min(runs["mmp"]), min(runs["script"])
    return {
        "rows": rows,
        "mmp_predict_s": round(mmp_s, 2),
        "user_script_s": round(script_s, 2),
        "mmp_predict_rows_per_s": round(rows / mmp_s),
        "user_script_rows_per_s": round(rows / script_s),
        "mmp_predict_vs_user_script": round(script_s / mmp_s, 3),
        "rows_differing_over_1e-12": int((diff > 1e-12).sum()),
        "max_abs_difference": float(diff.max()),
    }


# -- 4. peak memory ----------------------------------------------------------------------------


def peak_memory(sizes: tuple[int, ...] = (1_000_000, 10_000_000)) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for rows in sizes:
            source = Path(tmp) / f"in-{rows}.parquet"
            synthetic_parquet(source, rows)
            seconds, rss = timed(mmp_predict(source, Path(tmp) / "out.parquet"))
            out[f"rows_{rows}"] = {"peak_rss_mb": rss, "seconds": round(seconds, 1)}
            source.unlink()
    first, last = (out[f"rows_{n}"]["peak_rss_mb"] for n in (sizes[0], sizes[-1]))
    out["peak_ratio_largest_vs_smallest"] = round(last / first, 3)
    return out
