"""Pipeline cost: `dvc exp run` on the default (20k rows, MLflow mirroring on, as users run it),
a no-op `dvc repro`, and the ratio of `dvc exp run --force -S data.rows=N` (mirroring off) to
the one-file scikit-learn + LightGBM script a user would write for the same recipe and data
(`benchmarks/bare_pipeline.py`), with the peak memory (largest single process) of each side.
The default run starts with no stage server (a runtime directory of its own), as on a fresh
machine. A stage forked from the server is not a child of `dvc`, so the pipeline's peak memory
comes from a second run with ``MMP_FORKSERVER=0`` (each stage its own process), whose time is
reported too.
Goals (issue 16): <= 15 s, <= 1 s, ratio <= 1.0 at 2M rows; 10M rows within 24 GiB.
``BENCH_PIPELINE_ROWS=20000,2000000,10000000`` picks the sizes (default: 20k and 2M)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.conftest import make_repo_copy, pipeline_env  # noqa: E402

SIZES = (20_000, 2_000_000)
GOALS = {"exp_run_default_s": 15, "noop_repro_s": 1, "ratio_at_2M": 1.0, "peak_rss_mib_at_10M": 24 * 1024}


def timed(cmd: list[str], repo: Path, **env: str) -> tuple[float, int]:
    """Wall seconds and the peak RSS (MiB) of the largest process the command waited for."""
    script = (
        "import resource,subprocess,sys,time;t=time.perf_counter();subprocess.run(sys.argv[1:],check=True,stdout=subprocess.DEVNULL);"
        "print(time.perf_counter()-t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    # A fresh wrapper process per measurement, so RUSAGE_CHILDREN covers this command only.
    out = subprocess.run(
        [sys.executable, "-c", script, *cmd], cwd=repo, env=pipeline_env(repo, **env), capture_output=True, text=True, check=True
    ).stdout.split()
    return float(out[0]), int(out[1]) // 1024


def run() -> dict:
    sizes = [int(n) for n in os.environ.get("BENCH_PIPELINE_ROWS", ",".join(map(str, SIZES))).split(",")]
    results: dict = {"cpu_count": os.cpu_count(), "load_average": os.getloadavg(), "goals": GOALS}
    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryDirectory(prefix="mmp-run-", dir="/tmp") as runtime:
        repo = make_repo_copy(Path(tmp) / "repo")
        results["exp_run_default_s"], _ = timed(["dvc", "exp", "run"], repo, XDG_RUNTIME_DIR=runtime)
        results["noop_repro_s"], _ = timed(["dvc", "repro"], repo)
        for rows in sizes:
            # The bare script does not mirror to MLflow, so neither does the pipeline it is compared with.
            force = ["dvc", "exp", "run", "--force", "-S", f"data.rows={rows}"]
            pipeline_s, _ = timed(force, repo, MMP_MIRROR="false", XDG_RUNTIME_DIR=runtime)
            own_processes_s, pipeline_mb = timed(force, repo, MMP_MIRROR="false", MMP_FORKSERVER="0")
            bare_s, bare_mb = timed([sys.executable, "-m", "benchmarks.bare_pipeline", "params.yaml", str(Path(tmp) / f"bare{rows}")], repo)
            results[f"rows_{rows}"] = {
                "pipeline_s": round(pipeline_s, 2),
                "pipeline_own_processes_s": round(own_processes_s, 2),
                "bare_s": round(bare_s, 2),
                "ratio": round(pipeline_s / bare_s, 3),
                "pipeline_peak_rss_mib": pipeline_mb,
                "bare_peak_rss_mib": bare_mb,
            }
    results["exp_run_default_s"] = round(results["exp_run_default_s"], 2)
    results["noop_repro_s"] = round(results["noop_repro_s"], 2)
    return results


if __name__ == "__main__":
    print(run())
