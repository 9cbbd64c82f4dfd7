"""``mmp mirror``: mirror experiments into MLflow (runs, datasets, logged models, registry).

Without flags it mirrors the workspace's results. ``--all`` mirrors every experiment that
``dvc exp show`` lists, reading each one's files from its git commit and its model package
from the DVC cache: this catches up after the tracking server was down and covers stages DVC
restored from its run-cache. Mirroring is keyed by the experiment's identity, so running it
again updates the runs and never duplicates them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mmp.errors import MMPError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("mirror", help="mirror DVC experiments into MLflow (exactly once)", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--all", action="store_true", help="every experiment `dvc exp show` lists, plus the workspace")
    p.add_argument("--repo", default=".", help="repository root (default: .)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mmp.settings import load_settings
    from mmp.tracking.mirror import connect
    from mmp.tracking.state import RevFiles, WorkspaceFiles, experiments, workspace_identity
    from mmp.tracking.sync import describe, mirror_one

    root = Path(args.repo).resolve()
    if not (root / "dvc.yaml").exists():
        raise MMPError("--repo", f"{root.name} has no dvc.yaml", "the root of a DVC repository")
    tracker = connect(load_settings(root=root))
    known = experiments(root)
    targets = [(RevFiles(root, ident.commit), ident) for ident in known] if args.all else []
    here = workspace_identity(root, known)
    if (root / "dvc.lock").exists() and here.key not in {ident.key for _, ident in targets}:
        targets.append((WorkspaceFiles(root), here))
    failures = 0
    for files, ident in targets:
        try:
            print(describe(*mirror_one(tracker, files, ident)))
        except MMPError as err:
            failures += 1
            print(f"error: {ident.name}: {err}")
    if not targets:
        print("nothing to mirror: no dvc.lock in the workspace and no experiments (run `dvc exp run` first)")
    return 1 if failures else 0
