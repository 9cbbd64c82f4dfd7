"""``mmp simulate``: run consecutive days of the daily loop (`mmp daily`) on synthetic data and
draw them. The days run in a clone of the repository under ``--output`` (its own MLflow and
events stores: your registry and workspace are untouched): the first champion is trained and
promoted, then each day gets a batch sampled from the scenario (`stable`; `drift`: drift from
``--drift-from``, the gate fails and a retrain recovers; `broken`: labels scrambled, every
attempt fails and the alert fires).

Writes under --output: timeline.png (the champion's daily F1 against the threshold, the drift
score, markers for retrains, deployments and alerts), timeline.csv, events.csv and events.md
(every event), simulate.log (every command's output). Re-running with the same --output
continues the days already run (the events store makes each day idempotent).
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

from mmp.core.errors import MMPError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("simulate", help="run N days of the daily loop on synthetic data and draw the timeline", description=__doc__)
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("--days", type=int, required=True, help="how many consecutive days")
    p.add_argument("--scenario", choices=("stable", "drift", "broken"), required=True, help="conf/daily/scenario/NAME.yaml")
    p.add_argument("--drift-from", type=int, default=None, help="the first drifted day, 1-based (default: the scenario's)")
    p.add_argument("--output", type=Path, required=True, help="report directory (the days run in OUTPUT/work)")
    p.add_argument("--rows", type=int, default=1000, help="rows per day (default 1000)")
    p.add_argument("--train-rows", type=int, default=4000, help="rows the first champion is trained on (default 4000)")
    p.add_argument("--start", default="2026-01-01", help="the first day, YYYY-MM-DD (default 2026-01-01)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a conf/daily setting for every day; repeatable")
    p.add_argument(
        "-S", dest="recipe", action="append", default=[], metavar="OVERRIDE", help="a recipe override (`dvc exp run -S`); repeatable"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mmp.cli.daily import parse_day
    from mmp.core.config import checkout_root
    from mmp.ops.daily.simulate import Simulation
    from mmp.ops.daily.simulate import run as simulate

    for flag, value, low in (("--days", args.days, 1), ("--rows", args.rows, 100), ("--train-rows", args.train_rows, 200)):
        if value < low:
            raise MMPError(flag, f"{value} is too small", f"at least {low}")
    if args.drift_from is not None and not 1 <= args.drift_from <= args.days:
        raise MMPError("--drift-from", f"{args.drift_from} is not one of the simulated days", f"1 to {args.days}")
    start: date = parse_day(args.start, "--start")
    sim = Simulation(args.days, args.scenario, start, args.drift_from, args.rows, args.train_rows, tuple(args.set), tuple(args.recipe))
    for line in simulate(checkout_root(), args.output, sim):
        print(line)
    print(f"timeline: {args.output / 'timeline.png'}; events: {args.output / 'events.md'}")
    return 0
