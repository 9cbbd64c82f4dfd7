"""``mmp guards``: the CI guards (``make guards``; .ci/run and the workflows run them).

  params       params.yaml is stale against conf/ (fix: `make params`, commit params.yaml)
  lock         dvc.lock does not record the params in params.yaml (fix: `dvc exp run`, commit dvc.lock)
  large-files  a file over --max-mib, or a data/model file under data/ or models/, is in git
               (fix: `git rm --cached FILE` and `dvc add FILE` or make it a stage output)

Exit status 1 when any guard fails, with one line per problem.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mmp.ops.guards import GUARDS, problems


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "guards",
        help="fail on stale params.yaml, stale dvc.lock or large files in git",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("only", nargs="*", type=guard_name, metavar="GUARD", help=f"guards to run (default: all of {', '.join(GUARDS)})")
    p.add_argument("--max-mib", type=float, default=1.0, help="largest file git may hold, in MiB (default: 1)")
    p.add_argument("--repo", default=".", help="repository root (default: .)")
    p.set_defaults(func=run)


def guard_name(value: str) -> str:
    if value not in GUARDS:
        raise argparse.ArgumentTypeError(f"unknown guard {value!r} (allowed: {', '.join(GUARDS)})")
    return value


def run(args: argparse.Namespace) -> int:
    repo, failed = Path(args.repo), False
    for name in args.only or GUARDS:
        found = problems(name, repo, args.max_mib)
        failed |= bool(found)
        print(f"guard {name}: {'FAILED' if found else 'ok'}")
        for line in found:
            print(f"error: {line}", file=sys.stderr)
    return 1 if failed else 0
