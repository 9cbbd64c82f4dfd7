"""Fixed costs of the pipeline (issue 16): the default `dvc exp run` (20k rows, mirroring on) and a
no-op `dvc repro` after it, with the floors they are measured against in the same run: the
Python interpreter's start-up, DVC's own start-up (`dvc --version`), and each stage's start-up
(a fresh interpreter importing the stage module, the imports every run of it pays before any
work). Goals: `dvc exp run` <= 15 s, no-op `dvc repro` <= 1 s.

Two more floors are DVC's own, so that a run shows how much of its time DVC spends whatever the
stages do: a no-op `dvc repro` of a one-stage project (any project's floor), and DVC rewriting
this repository's `dvc.lock` (`dvc.utils.serialize.modify_yaml`, its round-trip YAML parser and
writer), which `dvc exp run` does after every stage it runs: its cost grows with the lock, whose
lines are mostly the stages' per-module code dependencies (DESIGN: a stage's deps name every
module it imports).

The first `dvc exp run` starts with no stage server (a runtime directory of its own): its first
stage runs in its own process and starts the server the later stages are forked from. Then
`dvc exp run --force` with that server warm and with ``MMP_FORKSERVER=0`` (each stage its own
process, as before the server), interleaved, medians of ``REPEATS``."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.conftest import make_repo_copy, pipeline_env  # noqa: E402

STAGES = ("prepare", "featurize", "tune", "train", "evaluate", "package")
GOALS = {"exp_run_default_s": 15, "noop_repro_s": 1}
REPEATS = 3  # the no-op and start-up figures are medians of this many runs


def timed(cmd: list[str], repo: Path, **env: str) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, cwd=repo, env=pipeline_env(repo, **env), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def median(cmd: list[str], repo: Path, **env: str) -> float:
    return round(statistics.median(timed(cmd, repo, **env) for _ in range(REPEATS)), 3)


def forced_runs(repo: Path, runtime: str) -> dict[str, float]:
    """`dvc exp run --force` with stages forked from the warm server and in their own processes,
    interleaved so that both see the same machine."""
    times: dict[str, list[float]] = {"forked": [], "own_processes": []}
    for _ in range(REPEATS):
        times["forked"].append(timed(["dvc", "exp", "run", "--force"], repo, XDG_RUNTIME_DIR=runtime))
        times["own_processes"].append(timed(["dvc", "exp", "run", "--force"], repo, MMP_FORKSERVER="0"))
    return {how: round(statistics.median(values), 2) for how, values in times.items()}


def one_stage_project(path: Path) -> Path:
    """A git + DVC project with one stage that copies a file, reproduced once."""
    path.mkdir()
    (path / "a.txt").write_text("a\n")
    stage = ["dvc", "stage", "add", "-q", "-n", "copy", "-d", "a.txt", "-o", "b.txt", "cp a.txt b.txt"]
    for cmd in (["git", "init", "-q"], ["dvc", "init", "-q"], stage, ["dvc", "repro", "-q"]):
        subprocess.run(cmd, cwd=path, env=pipeline_env(path), check=True, capture_output=True)
    return path


def lock_update_s(lock: Path) -> float:
    """Seconds DVC takes to load and write back ``lock`` as it does after each stage (a copy)."""
    from dvc.utils.serialize import modify_yaml

    copy = lock.with_name("copy.lock")
    copy.write_bytes(lock.read_bytes())
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        with modify_yaml(copy):
            pass
        times.append(time.perf_counter() - started)
    copy.unlink()
    return round(statistics.median(times), 3)


def lock_stages(lock: Path) -> dict:
    import yaml

    return yaml.safe_load(lock.read_text())["stages"]


def output_hashes(lock: Path) -> dict[str, str]:
    return {out["path"]: out.get("md5", "") for stage in lock_stages(lock).values() for out in stage.get("outs", [])}


def changed_outputs(committed: Path, ran: Path) -> list[str]:
    before, after = output_hashes(committed), output_hashes(ran)
    return sorted(path for path in before.keys() | after.keys() if before.get(path) != after.get(path))


def run() -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-fixed-") as tmp, tempfile.TemporaryDirectory(prefix="mmp-run-", dir="/tmp") as runtime:
        repo = make_repo_copy(Path(tmp) / "repo")
        exp_run = round(timed(["dvc", "exp", "run"], repo, XDG_RUNTIME_DIR=runtime), 2)
        changed = changed_outputs(ROOT / "dvc.lock", repo / "dvc.lock")
        noop = median(["dvc", "repro"], repo)
        forced = forced_runs(repo, runtime)
        floors = {"python_startup_s": median([sys.executable, "-c", "pass"], repo), "dvc_startup_s": median(["dvc", "--version"], repo)}
        imports = {name: median([sys.executable, "-c", f"import mmp.pipeline.stages.{name}"], repo) for name in STAGES}
        floors["noop_repro_one_stage_project_s"] = median(["dvc", "repro"], one_stage_project(Path(tmp) / "one-stage"))
        lock = {"lines": len((repo / "dvc.lock").read_text().splitlines()), "update_s": lock_update_s(repo / "dvc.lock")}
        lock["updates_per_run_s"] = round(lock["update_s"] * len(lock_stages(repo / "dvc.lock")), 2)  # one rewrite per stage run
    return {
        "exp_run_default_s": exp_run,
        "exp_run_forced_s": forced,
        "noop_repro_s": noop,
        **floors,
        "stage_import_s": imports,
        "dvc_lock": lock,
        # Cutting fixed costs must not change a byte of the default run: output hashes against
        # the committed dvc.lock (code-dependency hashes may differ).
        "outputs_differing_from_committed_dvc_lock": changed,
        "noop_repro_over_dvc_startup": round(noop / floors["dvc_startup_s"], 2),
        "goals": GOALS,
        "goals_met": {"exp_run_default_s": exp_run <= GOALS["exp_run_default_s"], "noop_repro_s": noop <= GOALS["noop_repro_s"]},
        "cpu_count": os.cpu_count(),
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }
