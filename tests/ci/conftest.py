"""A temp repo with two committed pipeline runs, shared by the report, guard and remote tests.

Both runs are small (2,000 rows) and are made by editing conf/ and running ``dvc exp run``, the
way a user changes a recipe, so params.yaml and dvc.lock are in sync with conf/ at each commit.
Tests that use it belong to one xdist group, so it is built once per test run."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import VENV_BIN, make_repo_copy, run

GROUP = pytest.mark.xdist_group("two_revisions")
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


@pytest.fixture(scope="session")
def two_revisions(tmp_path_factory: pytest.TempPathFactory) -> TwoRevisions:
    repo = make_repo_copy(tmp_path_factory.mktemp("two_revisions") / "repo")
    edit(repo / "conf/data/credit_default.yaml", "rows: 20000", "rows: 2000")
    base = exp_run(repo)
    commit(repo, "base: 300 trees")
    edit(repo / "conf/model/lightgbm.yaml", "n_estimators: 300", "n_estimators: 120")
    edit(repo / "conf/model/lightgbm.yaml", "default: 31", "default: 15")
    target = exp_run(repo)
    commit(repo, "target: 120 trees, 15 leaves")
    return TwoRevisions(repo, base, target)


def clone(repo: Path, dest: Path) -> Path:
    subprocess.run(["git", "clone", "-q", str(repo), str(dest)], check=True)
    return dest
