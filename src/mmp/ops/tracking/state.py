"""Reading one experiment's state: from the workspace, or from an experiment's git commit plus
the DVC cache (what ``mmp mirror --all`` needs: queued runs and run-cache restores leave their
results only there). The identity that keys the mirror is mmp.core.identity's."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Protocol

from mmp.core.errors import MMPError
from mmp.core.identity import Identity, exp_identity, git, repro_identity
from mmp.core.io import load_yaml as parse_yaml
from mmp.core.io import md5_file


class RepoFiles(Protocol):
    root: Path

    def read(self, path: str) -> bytes | None: ...
    def files_under(self, prefix: str) -> list[str]: ...
    def data_md5(self, path: str, lock: dict[str, Any]) -> str | None: ...
    def package(self, path: str, lock: dict[str, Any], scratch: Path) -> tuple[Path, str] | None: ...


def md5_dir(path: Path) -> str:
    """The ``<md5>.dir`` hash DVC records for a directory out, computed with DVC's own builder."""
    import tempfile

    from dvc_data.hashfile.build import build
    from dvc_data.hashfile.db import HashFileDB
    from dvc_objects.fs.local import LocalFileSystem

    fs = LocalFileSystem()
    with tempfile.TemporaryDirectory() as odb_dir:
        _, _, obj = build(HashFileDB(fs, odb_dir), str(path), fs, "md5", dry_run=True)
    if obj.hash_info.value is None:  # build always hashes; this is DVC's Optional field
        raise RuntimeError(f"DVC computed no md5 for {path}")
    return obj.hash_info.value


def lock_entries(lock: dict[str, Any], kind: str) -> dict[str, str]:
    """{path: md5} of every stage's ``deps`` or ``outs`` in a parsed dvc.lock."""
    found: dict[str, str] = {}
    for stage in (lock or {}).get("stages", {}).values():
        for entry in stage.get(kind, []):
            if "md5" in entry:
                found[entry["path"]] = entry["md5"]
    return found


class WorkspaceFiles:
    """The files on disk. The mirror stage runs before DVC records the run in the experiment's
    commit, so the package's and the data's hashes are computed here, exactly as DVC computes them."""

    def __init__(self, root: Path):
        self.root = root

    def read(self, path: str) -> bytes | None:
        file = self.root / path
        return file.read_bytes() if file.is_file() else None

    def files_under(self, prefix: str) -> list[str]:
        base = self.root / prefix
        return sorted(p.relative_to(self.root).as_posix() for p in base.rglob("*") if p.is_file()) if base.is_dir() else []

    def data_md5(self, path: str, lock: dict[str, Any]) -> str | None:
        file = self.root / path
        return md5_file(file) if file.is_file() else None

    def package(self, path: str, lock: dict[str, Any], scratch: Path) -> tuple[Path, str] | None:
        directory = self.root / path
        return (directory, md5_dir(directory)) if (directory / "MLmodel").is_file() else None


class RevFiles:
    """An experiment's commit: small files from git, cached outputs from the DVC cache."""

    def __init__(self, root: Path, rev: str):
        self.root, self.rev = root, rev

    def read(self, path: str) -> bytes | None:
        return git(self.root, "show", f"{self.rev}:{path}", binary=True)

    def files_under(self, prefix: str) -> list[str]:
        out = git(self.root, "ls-tree", "-r", "--name-only", self.rev, "--", prefix) or ""
        return sorted(out.splitlines())

    def data_md5(self, path: str, lock: dict[str, Any]) -> str | None:
        return lock_entries(lock, "deps").get(path)

    def package(self, path: str, lock: dict[str, Any], scratch: Path) -> tuple[Path, str] | None:
        oid = lock_entries(lock, "outs").get(path)
        if oid is None:
            return None
        dest = scratch / Path(path).name
        materialize_dir(self.root, oid, dest)
        return dest, oid


def materialize_dir(root: Path, oid: str, dest: Path) -> None:
    """Copy a directory out from the local DVC cache (its ``.dir`` listing names each file)."""
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        odb = repo.cache.local
        listing = Path(odb.oid_to_path(oid))
        if not listing.is_file():
            raise MMPError(f"DVC cache object {oid}", "is not in the local cache", "run `dvc pull` (or `dvc fetch`) first")
        for entry in json.loads(listing.read_text()):
            target = dest / entry["relpath"]
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(odb.oid_to_path(entry["md5"]), target)


def experiments(root: Path) -> list[Identity]:
    """Every experiment ``dvc exp show`` lists (those of HEAD), in no particular order."""
    from dvc.repo import Repo
    from dvc.repo.experiments.ls import ls

    with Repo(str(root)) as repo:
        listed = ls(repo)
    return [exp_identity(baseline, name, sha) for baseline, exps in listed.items() for name, sha in exps if sha]


def run_time(root: Path, ident: Identity) -> float:
    """When the run finished: an experiment's commit time (DVC commits it at the end of the
    run), else, for a plain repro in the workspace, when its dvc.lock was written."""
    if ident.exp_name:
        stamp = git(root, "log", "-1", "--format=%ct", ident.commit)
        if stamp:
            return float(stamp)
    lock = root / "dvc.lock"
    return lock.stat().st_mtime if lock.exists() else 0.0


def workspace_identity(root: Path, known: list[Identity]) -> Identity:
    """The workspace is the experiment whose committed dvc.lock it holds; else a plain repro."""
    lock = (root / "dvc.lock").read_bytes() if (root / "dvc.lock").exists() else None
    for ident in known:
        if lock is not None and git(root, "show", f"{ident.commit}:dvc.lock", binary=True) == lock:
            return ident
    return repro_identity(root, (root / "params.yaml").read_bytes() if (root / "params.yaml").exists() else b"")


def load_yaml(raw: bytes | None) -> dict[str, Any]:
    return (parse_yaml(raw) or {}) if raw else {}
