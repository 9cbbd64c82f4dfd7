"""``mmp params``: recompose params.yaml from conf/ the way ``dvc exp run`` does.

Plain ``dvc repro`` does not recompose params.yaml (a documented DVC limitation), so after
editing conf/ run ``make params`` (or ``mmp params``); ``--check`` fails when it is stale.
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
import tempfile
from pathlib import Path

from mmp.errors import MMPError
from mmp.io import atomic_path

PARAMS = "params.yaml"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("params", help="recompose params.yaml from conf/ (Hydra)", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. model=random_forest model.hyperparameters.n_estimators=50")
    p.add_argument("--check", action="store_true", help="exit 1 if params.yaml differs from what conf/ composes to")
    p.add_argument("--repo", default=".", help="repository root (default: .)")
    p.set_defaults(func=run)


def compose(repo: Path, overrides: list[str]) -> str:
    """The YAML that ``dvc exp run`` would write, using DVC's own composition."""
    from dvc.utils.hydra import compose_and_dump
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    config_dir = (repo / "conf").resolve()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / PARAMS
        try:
            compose_and_dump(out, str(config_dir), None, "config", str(repo.resolve()), overrides)
        except (HydraException, OmegaConfBaseException) as err:
            raise MMPError("conf/", f"cannot compose the recipe: {err}".replace(os.linesep, " ")) from None
        return out.read_text()


def run(args: argparse.Namespace) -> int:
    repo = Path(args.repo)
    composed = compose(repo, args.overrides)
    target = repo / PARAMS
    current = target.read_text() if target.exists() else ""
    if args.check:
        if composed == current:
            print(f"{PARAMS} is in sync with conf/")
            return 0
        diff = difflib.unified_diff(current.splitlines(), composed.splitlines(), f"{PARAMS} (committed)", f"{PARAMS} (composed from conf/)", lineterm="")
        print("\n".join(diff), file=sys.stderr)
        print(f"error: {PARAMS} is stale against conf/; run `make params` (or `mmp params`) and commit it", file=sys.stderr)
        return 1
    with atomic_path(target) as tmp:
        tmp.write_text(composed)
    print(f"wrote {target} from conf/" + (f" with overrides {args.overrides}" if args.overrides else ""))
    return 0
