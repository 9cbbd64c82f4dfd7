"""``tune.n_jobs`` above 1 on one machine: the trials run in that many ``mmp tune-worker``
processes that join the stage's study in the RDB storage (``tune.storage``), each with an equal
share of the cores. Optuna threads in one process gave 1.1 to 1.7 times the trials per minute
of one trial at a time on 2 cores (the GIL, one process); separate processes scale with the
cores. Each worker gets a fixed share of the remaining budget, so the study ends with exactly
``tune.n_trials`` finished trials; a worker that exits non-zero stops the others and the stage
fails with that worker's error."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

from mmp.core.errors import MMPError
from mmp.core.settings import TuneSettings
from mmp.core.threads import available_cores
from mmp.tuning.threads import threads_per_trial

STOP_SECONDS = 10  # after SIGTERM, how long a worker may take to exit before it is killed


def quotas(remaining: int, workers: int) -> list[int]:
    """``remaining`` trials split as evenly as possible over at most ``workers`` workers."""
    n = max(1, min(workers, remaining))
    return [remaining // n + (i < remaining % n) for i in range(n)]


def worker_command(params: str, features: Path, prepared: Path, threads: int, seed: int, max_trials: int) -> list[str]:
    paths = ["--params", str(params), "--features", str(features), "--prepared", str(prepared)]
    budget = ["--n-jobs", "1", "--threads", str(threads), "--seed", str(seed), "--max-trials", str(max_trials)]
    return [sys.executable, "-m", "mmp", "tune-worker", *paths, *budget]


def worker_env(storage: TuneSettings) -> dict[str, str]:
    """The stage's environment, with its storage URL (so the workers join the same study even
    when it came from conf/env) and this process's ``mmp`` first on the path (the same code)."""
    import mmp

    src = str(Path(mmp.__file__).resolve().parents[1])
    path = os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "MMP_TUNE_STORAGE": storage.storage, "PYTHONPATH": path}


def run_workers(
    params: str,
    features: Path,
    prepared: Path,
    storage: TuneSettings,
    budget: tuple[int, int, int],
    on_poll: Callable[[], None] = lambda: None,
    poll: float = 1.0,
) -> list[list[int]]:
    """Run the remaining trials of the study in worker processes and wait for them.
    ``budget`` is (remaining trials, worker count, base seed); worker ``i`` samples with seed
    ``base + 1 + i``, as the Dask workers do. Returns the trial numbers each worker ran."""
    remaining, n_jobs, seed = budget
    shares = quotas(remaining, n_jobs)
    threads = threads_per_trial(len(shares), available_cores())
    env = worker_env(storage)
    with tempfile.TemporaryDirectory(prefix="mmp-tune-workers-") as tmp:
        logs = [(open(Path(tmp) / f"{i}.out", "w+"), open(Path(tmp) / f"{i}.err", "w+")) for i in range(len(shares))]  # noqa: SIM115
        procs: list[subprocess.Popen] = []
        previous = on_sigterm(lambda *_: sys.exit(128 + signal.SIGTERM))  # so `finally` runs when DVC is stopped
        try:
            for i, share in enumerate(shares):
                cmd = worker_command(params, features, prepared, threads, seed + 1 + i, share)
                procs.append(subprocess.Popen(cmd, env=env, stdout=logs[i][0], stderr=logs[i][1], stdin=subprocess.DEVNULL))
            while any(p.poll() is None for p in procs):
                raise_failed(procs, logs)
                on_poll()
                time.sleep(poll)
            raise_failed(procs, logs)
            return [ran(out) for out, _ in logs]
        finally:  # an error, a failed worker or Ctrl-C: no worker outlives the stage
            stop(procs)
            on_sigterm(previous)
            for out, err in logs:
                out.close()
                err.close()


def on_sigterm(handler: Any) -> Any:
    """Install ``handler`` for SIGTERM (main thread only, where Python allows it); the previous one."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, handler) if handler is not None else None


def raise_failed(procs: list[subprocess.Popen], logs: Sequence[tuple[IO[str], IO[str]]]) -> None:
    for i, proc in enumerate(procs):
        code = proc.poll()
        if code:
            how = f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited {code}"
            raise MMPError("tune.n_jobs", f"tune worker {i + 1} of {len(procs)} {how}: {last_error(logs[i][1])}")


def last_error(err: IO[str]) -> str:
    """The worker's one-line error (``error: ...``), else the last line it wrote."""
    err.seek(0)
    lines = [line.strip() for line in err.read().replace("\r", "\n").splitlines() if line.strip()]
    errors = [line.removeprefix("error: ") for line in lines if line.startswith("error: ")]
    return errors[0] if errors else (lines[-1] if lines else "no output")


def ran(out: IO[str]) -> list[int]:
    """The trial numbers from the worker's JSON report (its last line)."""
    out.seek(0)
    lines = out.read().strip().splitlines()
    return list(json.loads(lines[-1]).get("ran", [])) if lines else []


def stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
