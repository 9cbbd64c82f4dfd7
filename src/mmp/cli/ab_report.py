"""``mmp ab-report``: compare the served variants on the labelled prediction log.

Arms: the champion (variant `champion`) and the challenger (variant `challenger`, plus `shadow`
rows: a shadow model's answers on the same live traffic, not returned). Only rows labelled by
`mmp label` count. Per arm: the project's metrics (classification when the log has
`mmp_proba_<class>` columns, else regression). The compared metric: accuracy (two-proportion
z-test) or mean absolute error (permutation test), its difference with a seeded bootstrap 95%
interval. Writes ab.json, ab.png and ab.md under --output. A variant with no labelled rows is
an error. The log: --log, else MMP_PREDICTION_LOG, else serving.prediction_log.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "ab-report",
        help="compare champion and challenger on the labelled prediction log",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--log", metavar="DIR|URL", help="the prediction log: a Parquet directory or a SQLAlchemy URL")
    p.add_argument("--table", help="the log's SQL table (default: serving.prediction_log.table, mmp_prediction_log)")
    p.add_argument("--output", type=Path, required=True, help="directory for ab.json, ab.png, ab.md")
    p.add_argument("--threshold", type=float, default=0.5, help="binary: the positive class from this probability (default: 0.5)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap and permutation seed (default: 0)")
    p.add_argument("--resamples", type=int, default=2000, help="bootstrap/permutation resamples (default: 2000)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mmp.core.errors import MMPError
    from mmp.ops.monitoring.ab import ab_report
    from mmp.ops.monitoring.logs import log_settings, read_log

    if not 0 < args.threshold < 1:
        raise MMPError("--threshold", f"got {args.threshold}", "a probability strictly between 0 and 1")
    if args.resamples < 100:
        raise MMPError("--resamples", f"got {args.resamples}", "an integer >= 100")
    report = ab_report(read_log(log_settings(args.log, args.table)), args.output, args.seed, args.threshold, args.resamples)
    print(f"{report['verdict']}; wrote {args.output / 'ab.json'}, ab.png, ab.md")
    return 0
