"""``mmp params``: recompose params.yaml from conf/ the way ``dvc exp run`` does.

Plain ``dvc repro`` does not recompose params.yaml (a documented DVC limitation), so after
editing conf/ run ``make params`` (or ``mmp params``); ``--check`` fails when it is stale.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

from mmp.core.io import atomic_path
from mmp.ops.params import PARAMS, compose


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "params", help="recompose params.yaml from conf/ (Hydra)", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. model=random_forest model.hyperparameters.n_estimators=50")
    p.add_argument("--check", action="store_true", help="exit 1 if params.yaml differs from what conf/ composes to")
    p.add_argument("--repo", default=".", help="repository root (default: .)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    repo = Path(args.repo)
    composed = compose(repo, args.overrides)
    target = repo / PARAMS
    current = target.read_text() if target.exists() else ""
    if args.check:
        if composed == current:
            print(f"{PARAMS} is in sync with conf/")
            return 0
        diff = difflib.unified_diff(
            current.splitlines(), composed.splitlines(), f"{PARAMS} (committed)", f"{PARAMS} (composed from conf/)", lineterm=""
        )
        print("\n".join(diff), file=sys.stderr)
        print(f"error: {PARAMS} is stale against conf/; run `make params` (or `mmp params`) and commit it", file=sys.stderr)
        return 1
    with atomic_path(target) as tmp:
        tmp.write_text(composed)
    print(f"wrote {target} from conf/" + (f" with overrides {args.overrides}" if args.overrides else ""))
    return 0
