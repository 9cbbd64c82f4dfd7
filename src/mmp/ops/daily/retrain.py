"""A retrain attempt: a real ``dvc exp run`` of the recipe on the accumulated window of daily
batches, registered as a version by the pipeline's own mirror stage, then evaluated on the
day's held-out rows. Attempts escalate by ``conf/daily`` ``escalation``."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from mmp.ops.daily.context import Day
from mmp.ops.daily.settings import STRATEGY_OVERRIDES
from mmp.ops.daily.steps import metrics_of, write_parquet


def window_frame(d: Day, days: int) -> pd.DataFrame:
    """The training part of each batch of the last ``days`` days (the day itself included)."""
    paths = [d.batch_path(d.day - timedelta(days=n)) for n in range(days)]
    frames = [pd.read_parquet(p) for p in reversed(paths) if p.is_file()]
    return pd.concat(frames, ignore_index=True)


def attempt_overrides(d: Day, attempt: int) -> list[str]:
    """The `-S` overrides of attempt ``attempt``: the window's file, the registered model (kept,
    whatever the file is called), a seed of its own and the attempt's strategy."""
    path = d.window_path(attempt).relative_to(d.root).as_posix()
    seed = (d.day.toordinal() % 1000) * 10 + attempt
    strategy = [o.format(model=d.model_name) for o in STRATEGY_OVERRIDES[d.settings.strategy(attempt)]]
    return [f"data.source_uri={path}", f"registry.model_name={d.model_name}", f"seed={seed}", *strategy, *d.settings.overrides]


def child_env() -> dict[str, str]:
    """The environment of a `dvc exp run`: its stages run `python -m mmp...`, which must be this
    interpreter's, whatever PATH the scheduler (Airflow, cron, a shell) gave us."""
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}


def run_experiment(d: Day, attempt: int, overrides: list[str]) -> tuple[int, str]:
    """``dvc exp run`` in the repository; its output goes to the day's report directory."""
    cmd = [sys.executable, "-m", "dvc", "exp", "run", *(arg for o in overrides for arg in ("-S", o))]
    proc = subprocess.run(cmd, cwd=d.root, capture_output=True, text=True, env=child_env())
    log = d.report_dir / f"attempt{attempt}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(f"$ dvc exp run {' '.join(f'-S {o}' for o in overrides)}\n{proc.stdout}\n{proc.stderr}")
    return proc.returncode, log.relative_to(d.root).as_posix()


def retrain(d: Day, attempt: int, champion: dict[str, float]) -> dict[str, Any]:
    """Attempt ``attempt`` (1-based); ``champion``: the champion's metrics on the same rows."""
    from mmp.modeling.gate import evaluate_gate
    from mmp.ops.tracking.registry import CANDIDATE

    found = d.done("retrain_attempt", attempt)
    if found is not None:
        return found
    days = d.settings.window(attempt)
    path = d.window_path(attempt)
    if not path.is_file():
        write_parquet(window_frame(d, days), path)
    overrides = attempt_overrides(d, attempt)
    code, log = run_experiment(d, attempt, overrides)
    base = {"attempt": attempt, "strategy": d.settings.strategy(attempt), "window_days": days, "overrides": overrides, "log": log}
    if code != 0:
        return d.record("retrain_attempt", "retrain_attempt", {**base, "passed": False, "error": f"dvc exp run exited {code}"}, attempt)
    version = d.version(CANDIDATE)
    d.record("version", "version", {"attempt": attempt, "version": str(version.version), "run_id": version.run_id}, attempt)
    metrics = metrics_of(d, str(version.version))
    result = evaluate_gate(d.settings.deploy_config, metrics, champion, "daily.gate")
    rule = d.settings.gate
    return d.record(
        "retrain_attempt",
        "retrain_attempt",
        {
            **base,
            "version": str(version.version),
            "run_id": version.run_id,
            "metrics": metrics,
            "value": metrics[rule.metric],
            "threshold": rule.value,
            "passed": result.passed,
            "summary": result.summary(),
        },
        attempt,
    )
