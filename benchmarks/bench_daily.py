"""One `mmp daily` on the default recipe, in a copy of the repository with a promoted champion
and a fitted distribution model: the wall time of a day whose gate passes (goal: under 10 s)
and of a day that retrains once (the gate raised out of reach, one attempt: a real
`dvc exp run`, so the day ends with the alert)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.conftest import make_repo_copy, pipeline_env  # noqa: E402

GOAL_S = 10.0


def timed(args: list[str], repo: Path, ok: tuple[int, ...] = (0,)) -> float:
    started = time.perf_counter()
    proc = subprocess.run(args, cwd=repo, env=pipeline_env(repo), capture_output=True, text=True)
    if proc.returncode not in ok:
        raise SystemExit(f"{' '.join(args)} exited {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return time.perf_counter() - started


def run() -> dict:
    mmp = [sys.executable, "-m", "mmp"]
    with tempfile.TemporaryDirectory() as tmp:
        repo = make_repo_copy(Path(tmp) / "repo")
        setup = {
            "exp_run_s": timed([sys.executable, "-m", "dvc", "exp", "run"], repo),
            "promote_s": timed([*mmp, "promote"], repo),
            "synth_fit_s": timed([*mmp, "synth", "fit", "--output", "models/distribution"], repo),
        }
        passed = timed([*mmp, "daily", "--date", "2026-01-02"], repo)
        again = timed([*mmp, "daily", "--date", "2026-01-02"], repo)  # every step read back from the events
        retrain = timed([*mmp, "daily", "--date", "2026-01-03", "--set", "gate.value=1.01", "--set", "max_attempts=1"], repo, ok=(0, 1))
    return {
        "cpu_count": os.cpu_count(),
        "goal_gate_passes_s": GOAL_S,
        "daily_gate_passes_s": round(passed, 2),
        "daily_rerun_recorded_day_s": round(again, 2),
        "daily_retrains_once_s": round(retrain, 2),
        "meets_goal": passed < GOAL_S,
        "setup_s": {k: round(v, 2) for k, v in setup.items()},
    }


if __name__ == "__main__":
    print(run())
