"""A smoke run of the serving benchmark (``benchmarks/bench_serve.py``, run in full by
``make bench``) on the small test package: ``mmp serve`` answers /predict and the constant-JSON
/health at concurrency 1, 8 and 32 and through a short soak at 32 without one error, with wrk
and with the Python load generator that stands in when wrk is absent."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from benchmarks import bench_serve

from tests.serving.conftest import example_record

WRK_OUTPUT = """Running 1s test @ http://127.0.0.1:8000/predict
  1 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.10ms  500.00us   9.00ms   90.00%
  Latency Distribution
     50%  812.00us
     75%    2.00ms
     90%    3.00ms
     99%    1.20s
  1523 requests in 1.00s, 400.00KB read
  Socket errors: connect 0, read 1, write 0, timeout 2
  Non-2xx or 3xx responses: 4
Requests/sec:   1520.55
"""


def test_wrk_output_is_read_with_its_units_and_every_error() -> None:
    got = bench_serve.parse_wrk(WRK_OUTPUT)
    assert got == {"requests": 1523, "errors": 7, "rps": 1520.55, "p50_ms": 0.812, "p99_ms": 1200.0}


@pytest.mark.parametrize("tool", ["wrk", "python"])
def test_serve_benchmark_smoke_run_has_no_errors(package_dir: Path, tool: str) -> None:
    if tool == "wrk" and shutil.which("wrk") is None:
        pytest.skip("wrk is not installed (apt-get install wrk); the Python generator is tested beside it")
    generator = bench_serve.load_generator() if tool == "wrk" else "python"
    out = bench_serve.mmp_loads(package_dir, example_record(package_dir), generator, seconds=1.0, soak_seconds=2.0, warmup=0.5)
    levels = [out["mmp"][f"c{c}"] for c in bench_serve.LEVELS] + [out["constant"][f"c{c}"] for c in bench_serve.LEVELS]
    for result in [*levels, out["soak_c32"]]:
        assert result["errors"] == 0 and result["requests"] > 0 and result["rps"] > 0
        assert 0 < result["p50_ms"] <= result["p99_ms"]
    if Path("/proc/self/stat").is_file():  # the server's CPU time per request (Linux)
        assert all(0 < result["cpu_us"] < 1e6 for result in levels)
