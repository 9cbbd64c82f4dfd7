"""CI guards: checks that fail a build before a stale or bloated commit lands.

- ``params``: params.yaml must be what conf/ composes to (see ``mmp params --check``);
- ``lock``: dvc.lock must record the params that params.yaml holds now, and the data contracts
  (conf/contracts, recipe files outside params.yaml), i.e. the committed results were produced
  by the committed recipe;
- ``large-files``: data and models belong in DVC, not in git.

The ``find_*`` functions are pure; ``git_sizes`` and ``lock_status`` ask git and DVC.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from mmp.core.config import CONTRACTS_DIR
from mmp.core.errors import MMPError
from mmp.ops.params import PARAMS, is_stale

GUARDS = ("params", "lock", "large-files")

# Folders whose contents DVC manages (dvc.yaml outputs and `dvc add`ed inputs).
DVC_DIRS = ("data", "models")
# File types that are data or model artifacts, never source.
DATA_SUFFIXES = frozenset(
    [
        ".parquet",
        ".csv",
        ".tsv",
        ".json",
        ".jsonl",
        ".xlsx",
        ".feather",
        ".arrow",
        ".avro",
        ".orc",
        ".h5",
        ".hdf5",
        ".npy",
        ".npz",
        ".pkl",
        ".pickle",
        ".joblib",
        ".onnx",
        ".pt",
        ".pth",
        ".safetensors",
        ".zip",
        ".gz",
        ".tar",
        ".db",
        ".sqlite",
    ]
)
MAX_BYTES = 1024 * 1024


def find_stale_lock_params(status: Mapping[str, Any]) -> list[str]:
    """Params that changed since dvc.lock was written, from ``dvc status --json``.

    DVC reports a params dependency as ``{params file: {key: modified|new|deleted}}`` and a
    file dependency as a plain string; missing outputs (a fresh clone) are ignored here."""
    stale = []
    for stage, entries in sorted(status.items()):
        for entry in entries if isinstance(entries, list) else []:
            deps = entry.get("changed deps", {}) if isinstance(entry, dict) else {}
            for path, change in sorted(deps.items()):
                if isinstance(change, dict):
                    stale += [f"stage {stage}: {path} {key} is {state} since dvc.lock was written" for key, state in sorted(change.items())]
                elif PurePosixPath(path) == PurePosixPath(CONTRACTS_DIR.as_posix()):
                    # The data contracts are recipe, kept out of params.yaml only to keep
                    # `dvc exp show` legible: an edited contract is a stale lock too.
                    stale.append(f"stage {stage}: {path} is {change} since dvc.lock was written")
    return stale


def find_large_files(files: Iterable[tuple[str, int]], max_bytes: int = MAX_BYTES) -> list[str]:
    """Git-tracked files over ``max_bytes``, or data/model files inside DVC's folders."""
    found = []
    for path, size in sorted(files):
        parts = PurePosixPath(path)
        if size > max_bytes:
            found.append(f"{path}: {size / 2**20:.1f} MiB is over the {max_bytes / 2**20:g} MiB limit for git")
        elif parts.parts[0] in DVC_DIRS and parts.suffix.lower() in DATA_SUFFIXES:
            found.append(f"{path}: a {parts.suffix} file under {parts.parts[0]}/ belongs in DVC")
    return found


def git_sizes(repo: Path) -> list[tuple[str, int]]:
    """(path, blob size) of every file in git's index: what is or will be committed."""
    staged = subprocess.run(["git", "ls-files", "-s", "-z"], cwd=repo, capture_output=True, text=True, check=True).stdout
    entries = [line.split("\t", 1) for line in staged.split("\0") if line]
    blobs = [(meta.split()[1], path) for meta, path in entries if not meta.startswith("160000")]  # skip submodules
    batch = "".join(f"{sha}\n" for sha, _ in blobs)
    sizes = subprocess.run(
        ["git", "cat-file", "--batch-check=%(objectsize)"], cwd=repo, input=batch, capture_output=True, text=True, check=True
    ).stdout.split()
    return [(path, int(size)) for (_, path), size in zip(blobs, sizes, strict=True)]


def lock_status(repo: Path) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "dvc", "status", "--json"]
    proc = subprocess.run(cmd, cwd=repo, capture_output=True, text=True)
    if proc.returncode != 0:
        raise MMPError("dvc status", proc.stderr.strip()[-500:] or f"exit code {proc.returncode}")
    return json.loads(proc.stdout or "{}")


def problems(name: str, repo: Path, max_mib: float) -> list[str]:
    """The problems one guard finds, one line each (empty: the guard passes)."""
    if name == "params":
        return [] if not is_stale(repo) else [f"{PARAMS} is stale against conf/; run `make params` and commit it"]
    if name == "lock":
        if not (repo / "dvc.lock").exists():
            return ["dvc.lock is missing; run `dvc exp run` and commit dvc.lock"]
        stale = find_stale_lock_params(lock_status(repo))
        return [*stale, "dvc.lock is out of date for params.yaml; run `dvc exp run` and commit dvc.lock"] if stale else []
    return find_large_files(git_sizes(repo), int(max_mib * 2**20))
