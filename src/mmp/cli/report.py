"""``mmp report``: a Markdown report of the target revision (default: the workspace) against a
base revision, for pull-request comments (``cml comment create report/report.md``).

It holds the metrics diff with changes, the params diff, the quality-gate verdict and PNG plots
(every plot dvc.yaml declares: ROC, precision-recall, confusion matrix, feature importance and
the training curves, base and target overlaid). Revisions are any Git revision or `dvc exp`
name. Everything renders offline. Example:

    mmp report --base origin/main            # writes report/report.md and report/plots/*.png
    mmp report --base HEAD~1 --target HEAD --out /tmp/review
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="write a Markdown + PNG report of a revision against a base",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--base", default="HEAD", help="the revision or experiment to compare against (default: HEAD)")
    p.add_argument("--target", default="workspace", help="the revision or experiment to report on (default: workspace)")
    p.add_argument("--out", default="report", help="output folder, replaced as a whole (default: report/)")
    p.add_argument("--repo", default=".", help="repository root (default: .)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mmp.ops.reporting.report import write_report

    path, images = write_report(Path(args.repo), args.base, args.target, Path(args.out))
    print(f"wrote {path} and {images} plots ({args.target} against {args.base})")
    return 0
