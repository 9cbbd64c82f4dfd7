"""Each CI guard fails on a bad repo copy and passes on a good one."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.ci.conftest import TwoRevisions, clone, edit, make
from tests.conftest import run


def guard(repo: Path, name: str) -> subprocess.CompletedProcess:
    return run(["mmp", "guards", name], repo, check=False)


def test_params_guard(repo_copy: Path) -> None:
    assert guard(repo_copy, "params").returncode == 0
    edit(repo_copy / "conf/config.yaml", "seed: 42", "seed: 7")
    proc = guard(repo_copy, "params")
    assert proc.returncode == 1
    assert "error: params.yaml is stale against conf/; run `make params` and commit it" in proc.stderr


def test_large_files_guard(repo_copy: Path) -> None:
    assert guard(repo_copy, "large-files").returncode == 0, "the project itself holds no data in git"
    (repo_copy / "notebooks").mkdir(exist_ok=True)
    (repo_copy / "notebooks/blob.bin").write_bytes(b"\0" * (2 * 2**20))
    (repo_copy / "data/raw/customers.csv").write_text("id,default\n1,0\n")
    subprocess.run(["git", "add", "notebooks/blob.bin", "data/raw/customers.csv"], cwd=repo_copy, check=True)
    proc = guard(repo_copy, "large-files")
    assert proc.returncode == 1
    assert "error: data/raw/customers.csv: a .csv file under data/ belongs in DVC" in proc.stderr
    assert "error: notebooks/blob.bin: 2.0 MiB is over the 1 MiB limit for git" in proc.stderr
    subprocess.run(["git", "rm", "-q", "--cached", "notebooks/blob.bin", "data/raw/customers.csv"], cwd=repo_copy, check=True)
    assert guard(repo_copy, "large-files").returncode == 0


def test_lock_guard_fails_without_a_lock(repo_copy: Path) -> None:
    (repo_copy / "dvc.lock").unlink()
    proc = guard(repo_copy, "lock")
    assert proc.returncode == 1
    assert "dvc.lock is missing" in proc.stderr


@pytest.mark.slow
def test_lock_guard(two_revisions: TwoRevisions, tmp_path: Path) -> None:
    fresh = clone(two_revisions.repo, tmp_path / "clone")
    guards = make(fresh, "guards").stdout
    assert "guard params: ok\nguard lock: ok\nguard large-files: ok" in guards, "outputs missing in a fresh clone are not a stale lock"
    edit(fresh / "conf/config.yaml", "seed: 42", "seed: 7")
    run(["mmp", "params"], fresh)
    assert guard(fresh, "params").returncode == 0
    proc = guard(fresh, "lock")
    assert proc.returncode == 1
    assert "stage prepare: params.yaml seed is modified since dvc.lock was written" in proc.stderr
    assert "dvc.lock is out of date for params.yaml" in proc.stderr
    assert make(fresh, "guards", check=False).returncode != 0, "make guards fails too"
