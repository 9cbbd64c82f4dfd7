"""The floors the fixed-cost benchmark (``benchmarks/bench_fixed.py``, run in full by ``make
bench``) measures beside the pipeline: DVC rewriting a lock as it does after each stage, and a
no-op `dvc repro` of a one-stage project."""

from __future__ import annotations

import subprocess
from pathlib import Path

from benchmarks import bench_fixed

from tests.conftest import ROOT, pipeline_env


def test_a_lock_rewrite_is_timed_on_a_copy_that_is_removed(tmp_path: Path) -> None:
    lock = tmp_path / "dvc.lock"
    lock.write_bytes((ROOT / "dvc.lock").read_bytes())
    seconds = bench_fixed.lock_update_s(lock)
    assert 0 < seconds < 60
    assert lock.read_bytes() == (ROOT / "dvc.lock").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dvc.lock"]
    assert len(bench_fixed.lock_stages(lock)) == len(bench_fixed.lock_stages(ROOT / "dvc.lock")) > 1


def test_the_one_stage_project_is_reproduced_and_its_repro_is_a_no_op(tmp_path: Path) -> None:
    project = bench_fixed.one_stage_project(tmp_path / "one")
    assert (project / "b.txt").read_text() == "a\n"
    status = subprocess.run(["dvc", "status"], cwd=project, env=pipeline_env(project), capture_output=True, text=True, check=True)
    assert "up to date" in status.stdout
