"""What DVC knows about two revisions, through its documented ``--json`` outputs.

``dvc metrics diff``, ``dvc params diff`` and ``dvc plots diff`` accept any Git revision or
experiment name, so the report works for branches, commits and ``dvc exp`` runs alike.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmp.core.errors import MMPError

WORKSPACE = "workspace"


@dataclass(frozen=True)
class Revisions:
    """The two sides of a report; ``target`` is ``workspace`` for uncommitted results."""

    base: str
    target: str = WORKSPACE

    def args(self) -> list[str]:
        # DVC compares against the workspace when the second revision is left out.
        return [self.base] if self.target == WORKSPACE else [self.base, self.target]


def dvc_json(repo: Path, *args: str) -> Any:
    """Run ``dvc <args> --json`` in ``repo`` and parse its output; a DVC error is a user error."""
    cmd = [sys.executable, "-m", "dvc", *args, "--json"]
    proc = subprocess.run(cmd, cwd=repo, capture_output=True, text=True)
    if proc.returncode != 0:
        errors = [line.removeprefix("ERROR: ") for line in proc.stderr.splitlines() if line.startswith("ERROR")]
        raise MMPError(f"dvc {' '.join(args)}", errors[-1] if errors else proc.stderr.strip()[-500:] or f"exit code {proc.returncode}")
    return json.loads(proc.stdout or "{}")


def metrics_diff(repo: Path, revs: Revisions) -> dict[str, dict[str, dict[str, Any]]]:
    """``{metrics file: {metric: {old, new, diff}}}`` with unchanged metrics included."""
    return dvc_json(repo, "metrics", "diff", *revs.args(), "--all")


def profile_diff(repo: Path, revs: Revisions) -> dict[str, dict[str, dict[str, Any]]]:
    """The per-column data profile (``paths.data_profile`` in dvc.yaml), compared like a metrics
    file. It is a plain output, kept out of `dvc exp show`, but DVC diffs any JSON file named
    as a target, so the report still shows how the missing rates moved."""
    import yaml

    graph = yaml.safe_load((repo / "dvc.yaml").read_text()) if (repo / "dvc.yaml").is_file() else {}
    paths = {k: v for block in graph.get("vars", []) if isinstance(block, dict) for k, v in block.get("paths", {}).items()}
    if not paths.get("data_profile"):
        return {}
    return dvc_json(repo, "metrics", "diff", *revs.args(), "--all", "--targets", paths["data_profile"])


def params_diff(repo: Path, revs: Revisions) -> dict[str, dict[str, dict[str, Any]]]:
    """``{params file: {dotted key: {old, new[, diff]}}}`` for changed params only."""
    return dvc_json(repo, "params", "diff", *revs.args())


def plots_diff(repo: Path, revs: Revisions, images: Path) -> tuple[dict[str, list[dict[str, Any]]], list[dict[str, Any]]]:
    """Filled Vega-Lite specs per plot id (as declared in dvc.yaml), and DVC's load errors
    (a plot whose file neither revision produced, e.g. a regression plot for a classifier).
    Image plots (PNG) come as ``{"type": "image", "url": <a file DVC wrote under images>}``,
    one per revision in order."""
    out = dvc_json(repo, "plots", "diff", *revs.args(), "--out", str(images))
    return out.get("data", {}), out.get("errors", [])


def params_at(repo: Path, rev: str) -> dict[str, Any]:
    """The nested params of one revision (``workspace`` reads the working tree)."""
    import dvc.api

    return dvc.api.params_show(repo=str(repo), rev=None if rev == WORKSPACE else rev)
