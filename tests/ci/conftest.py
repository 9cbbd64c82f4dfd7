"""A temp repo with two committed pipeline runs, shared by the report, guard and remote tests.

Both runs are small (2,000 rows) and are made by editing conf/ and running ``dvc exp run``, the
way a user changes a recipe, so params.yaml and dvc.lock are in sync with conf/ at each commit.
It is built once per test run even under pytest-xdist (a file lock, the pattern xdist
documents: with pytest 9, xdist 3.8's ``--dist loadgroup`` no longer keeps a group on one
worker), and every test works in its own ``git clone`` of it, so tests never share a repo."""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import VENV_BIN, make_repo_copy, run

GIT = ["git", "-c", "commit.gpgsign=false"]


@dataclass(frozen=True)
class TwoRevisions:
    repo: Path
    base_exp: str  # the experiment behind HEAD~1 (300 trees)
    target_exp: str  # the experiment behind HEAD (120 trees, 15 leaves)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


def exp_run(repo: Path) -> str:
    out = run(["dvc", "exp", "run"], repo).stdout
    return re.search(r"Ran experiment\(s\): (\S+)", out).group(1)


def commit(repo: Path, message: str) -> None:
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run([*GIT, "commit", "-qm", message], cwd=repo, check=True)


def make(repo: Path, *args: str, check: bool = True, **env: str) -> subprocess.CompletedProcess:
    """A project make target in a temp copy, with the test venv and without `setup` (which
    would build a venv inside the copy)."""
    return run(["make", "--no-print-directory", "-o", "setup", f"VENV={VENV_BIN.parent}", *args], repo, check=check, **env)


def build(repo: Path) -> dict[str, str]:
    make_repo_copy(repo)
    edit(repo / "conf/data/credit_default.yaml", "rows: 20000", "rows: 2000")
    base = exp_run(repo)
    commit(repo, "base: 300 trees")
    edit(repo / "conf/model/lightgbm.yaml", "n_estimators: 300", "n_estimators: 120")
    edit(repo / "conf/model/lightgbm.yaml", "default: 31", "default: 15")
    target = exp_run(repo)
    commit(repo, "target: 120 trees, 15 leaves")
    return {"base_exp": base, "target_exp": target}


@pytest.fixture(scope="session")
def two_revisions(tmp_path_factory: pytest.TempPathFactory) -> TwoRevisions:
    """Read-only: tests clone it (``clone``) rather than change it."""
    from filelock import FileLock

    # Under xdist every worker has its own base temp dir; their parent is shared.
    root = tmp_path_factory.getbasetemp()
    root = root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root
    repo, done = root / "two_revisions" / "repo", root / "two_revisions.json"
    with FileLock(str(done) + ".lock"):
        if not done.is_file():
            done.write_text(json.dumps(build(repo)))
    return TwoRevisions(repo, **json.loads(done.read_text()))


def clone(repo: Path, dest: Path, share_cache: bool = False) -> Path:
    """A ``git clone`` with the experiments' refs; ``share_cache`` points its DVC cache at the
    original's, so it can push what the original computed."""
    subprocess.run(["git", "clone", "-q", str(repo), str(dest)], check=True)
    subprocess.run(["git", "fetch", "-q", "origin", "refs/exps/*:refs/exps/*"], cwd=dest, check=True)
    if share_cache:
        run(["dvc", "cache", "dir", "--local", str(repo / ".dvc" / "cache")], dest)
    return dest
