"""The identity of the experiment a pipeline run belongs to: it keys that run's one MLflow run.

Both the mirror stage and a Lightning training (which logs its epochs into that same run) need
it, so it is computed here, below both."""

from __future__ import annotations

import hashlib
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The MLflow run tag that holds an experiment's identity key.
KEY_TAG = "mmp.exp_key"


@dataclass(frozen=True)
class Identity:
    """What makes two mirrors the same MLflow run. An experiment is its baseline commit plus
    its name (DVC keeps names unique per baseline); a plain ``dvc repro`` is the commit plus the
    hash of params.yaml."""

    key: str
    name: str
    commit: str
    baseline: str | None = None
    exp_name: str | None = None


def git(root: Path, *args: str, binary: bool = False) -> Any:
    proc = subprocess.run(["git", *args], cwd=root, capture_output=True, check=False)
    if proc.returncode != 0:
        return None
    return proc.stdout if binary else proc.stdout.decode().strip()


def repro_identity(root: Path, params_text: bytes) -> Identity:
    commit = git(root, "rev-parse", "HEAD") or "nocommit"
    digest = hashlib.sha256(params_text).hexdigest()[:12]
    return Identity(key=f"repro:{commit}:{digest}", name=f"repro-{commit[:7]}", commit=commit)


def exp_identity(baseline: str, name: str, commit: str) -> Identity:
    return Identity(key=f"exp:{baseline}:{name}", name=name, commit=commit, baseline=baseline, exp_name=name)


def stage_identity(root: Path) -> Identity:
    """The identity of the run a stage belongs to: DVC tells a stage its experiment through
    DVC_EXP_NAME / DVC_EXP_BASELINE_REV (workspace and queued runs alike)."""
    name, baseline = os.environ.get("DVC_EXP_NAME"), os.environ.get("DVC_EXP_BASELINE_REV")
    if name and baseline:
        return exp_identity(baseline, name, commit=baseline)
    return repro_identity(root, (root / "params.yaml").read_bytes() if (root / "params.yaml").exists() else b"")
