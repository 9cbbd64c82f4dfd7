"""Pipeline runs that several end-to-end modules start from, each built once per test run
(``built_once``): read-only, tests copy them.

`small_run`: one `dvc exp run -S data.rows=2000 -n first`, the state tests/e2e/test_tracking.py
and tests/e2e/test_experiments.py both start from. Their tests share the xdist group `small_run`:
one worker builds it and runs them, and no other worker sits on its lock meanwhile.

`first_day`: `mmp simulate` trains its first champion exactly as tests/e2e/test_daily.py needs one (the recipe
on 3,000 rows with 50 trees, promoted, its distribution model fitted), then runs day 1. Training
that champion is the costly part of both, so it is done once per test run: the scenarios
continue copies of the day-1 work clone, and the daily tests run their days in another copy."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import built_once, make_repo_copy, run

SMALL_ROWS = 2000  # small_run's rows
QUIET = ["batch", "drift", "evaluation", "gate"]  # a day whose champion passes the gate
FIRST_GATE = 0.2  # the shared day 1 is gated as the `stable` scenario is
TRAIN_ROWS = 3000  # the first champion's rows
TREES = 50  # the first champion's and every retrain's trees


def simulate(repo: Path, out: Path, scenario: str, days: int, gate: float, drift_from: int | None) -> list[str]:
    """``mmp simulate`` of ``days`` days into ``out``; its one line per day and the summary."""
    args = ["--days", str(days), "--scenario", scenario, "--rows", "600", "--train-rows", str(TRAIN_ROWS), "--output", str(out)]
    args += ["-S", f"model.hyperparameters.n_estimators={TREES}", "--set", "max_attempts=1", "--set", f"gate.value={gate}"]
    args += ["--set", f"overrides=['model.hyperparameters.n_estimators={TREES}']"]
    if drift_from:
        args += ["--drift-from", str(drift_from)]
    return run([sys.executable, "-m", "mmp", "simulate", *args], repo, timeout=3000).stdout.strip().splitlines()


@pytest.fixture(scope="session")
def first_day(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The repository copy and the output of a one-day `stable` simulation (the first champion
    trained, promoted and its distribution fitted, then day 1), read-only: tests copy it. Its
    ``work`` folder is a repository with that champion and day 1's events."""

    def build(base: Path) -> None:
        repo = make_repo_copy(base / "repo")  # simulate clones the committed state: this checkout's, committed
        lines = simulate(repo, base / "day1", "stable", 1, FIRST_GATE, None)
        assert len(lines) == 2, lines
        events = pd.read_csv(base / "day1" / "events.csv")
        assert events["kind"].tolist() == QUIET, (base / "day1" / "simulate.log").read_text()[-3000:]

    base = built_once(tmp_path_factory, "simulate_first_day", build)
    return base / "repo", base / "day1"


@pytest.fixture(scope="session")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository copy after one `dvc exp run -S data.rows=2000 -n first`, mirrored by its
    mirror stage into the copy's SQLite MLflow store (version 1, alias candidate). Read-only:
    copy it (``shutil.copytree(..., symlinks=True)``) before running anything in it."""

    def build(base: Path) -> None:
        repo = make_repo_copy(base / "repo")
        out = run(["dvc", "exp", "run", "-S", f"data.rows={SMALL_ROWS}", "-n", "first"], repo).stdout
        assert "mirrored first -> MLflow run" in out, out[-3000:]

    return built_once(tmp_path_factory, "small_run", build) / "repo"
