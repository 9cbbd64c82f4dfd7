"""``mmp mirror``: mirror experiments into MLflow (runs, datasets, logged models, registry).

Without flags it mirrors the workspace's results. ``--stage`` is the pipeline's own last
stage (dvc.yaml `mirror`): it mirrors the run being reproduced, and a tracking failure is a
warning unless MMP_MIRROR_REQUIRED is true. ``--all`` mirrors every experiment that
``dvc exp show`` lists, reading each one's files from its git commit and its model package
from the DVC cache: this catches up after the tracking server was down. Experiments are
walked oldest first, so the `candidate` alias ends on the newest one. Mirroring is keyed by
the experiment's identity, so running it again updates the runs and never duplicates them, and
a package already registered keeps its version.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "mirror",
        help="mirror DVC experiments into MLflow (exactly once)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    which = p.add_mutually_exclusive_group()
    which.add_argument("--all", action="store_true", help="every experiment `dvc exp show` lists, plus the workspace")
    which.add_argument(
        "--stage",
        metavar="MARKER",
        help="the run DVC is reproducing (the `mirror` stage of dvc.yaml); then write the stage's MARKER file",
    )
    p.add_argument("--repo", default=".", help="repository root (default: .)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.stage:
        from mmp.ops.tracking.sync import mirror_after_stage

        mirror_after_stage(Path(args.repo).resolve(), Path(args.stage))
        return 0
    from mmp.ops.tracking.sync import mirror_repo

    return mirror_repo(Path(args.repo).resolve(), args.all)
