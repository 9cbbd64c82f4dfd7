"""The package's creation time comes from the pipeline's definition, not from 'now' or from
commits that only touch docs or dvc.lock (so a fresh clone reproduces the committed lock)."""

from __future__ import annotations

import subprocess
from datetime import datetime
from pathlib import Path

import pytest

from mmp.inference.pyfunc import created_at


def commit(repo: Path, path: str, when: int) -> None:
    (repo / path).parent.mkdir(parents=True, exist_ok=True)
    (repo / path).write_text(f"{path} at {when}\n")
    env = {"GIT_AUTHOR_DATE": f"{when} +0000", "GIT_COMMITTER_DATE": f"{when} +0000", "PATH": "/usr/bin:/bin"}
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "-c", "user.email=t@e.st", "-c", "user.name=t", "commit", "-qm", path], cwd=repo, check=True, env=env)


def test_only_definition_commits_move_the_creation_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    commit(tmp_path, "src/mmp/stage.py", 1_700_000_000)
    commit(tmp_path, "README.md", 1_700_000_500)
    commit(tmp_path, "dvc.lock", 1_700_000_900)
    assert created_at(tmp_path) == datetime(2023, 11, 14, 22, 13, 20)
    commit(tmp_path, "conf/model/x.yaml", 1_700_001_000)
    assert created_at(tmp_path) == datetime(2023, 11, 14, 22, 30, 0)


def test_source_date_epoch_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "86400")
    assert created_at(tmp_path) == datetime(1970, 1, 2)
