"""mmp exps: the experiments `dvc exp show` lists, legible in a terminal. One row per
experiment (and the workspace and its baseline commit), with the params that differ between
the rows and the headline test metrics (roc_auc, pr_auc, f1, log_loss; rmse, mae, r2 for
regression). Params that do not fit the width are counted under the table. Examples:

    mmp exps                  # fits the terminal (120 columns when not a terminal)
    mmp exps --all            # every changed param and every metric, uncut
    mmp exps --json           # the same selection as JSON
    mmp exps --all-commits    # experiments of every commit, not only HEAD's
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "exps",
        help="list experiments: name, the params that differ, the headline metrics",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--all", action="store_true", dest="every", help="every changed param and every metric, values uncut")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--all-commits", action="store_true", help="experiments of every commit (dvc exp show --all-commits)")
    p.add_argument("--width", type=int, default=None, help="line width (default: the terminal's, else 120)")
    p.add_argument("--repo", default=".", help="repository root (default: .)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mmp.ops.exps import as_json, load_rows, render

    rows = load_rows(Path(args.repo), args.all_commits)
    if args.json:
        print(json.dumps(as_json(rows, args.every), indent=2, default=str))
    else:
        print(render(rows, args.width or shutil.get_terminal_size((120, 24)).columns, args.every))
    return 0
