"""``mmp daily``: one day of the model's life. Gets the day's labelled batch (conf/daily
``source``) and checks it against the data contract (a broken batch is quarantined with an
alert), measures drift against the champion's training sample, evaluates the `champion` on the
batch's held-out rows and gates it (conf/daily ``gate``). When the gate fails it retrains: each
attempt a real `dvc exp run` on the accumulated window of batches, registered as a version and
evaluated on the same rows, at most ``max_attempts`` times, escalating by ``escalation``. A
passing attempt that beats the champion is deployed (the `champion` alias moves); when none
passes an alert carries the figures and the exit status is 1.

Every step is an event (`mmp events`), keyed by day, step and attempt: re-running a day that
was killed continues where it stopped, never duplicating an event or a version. ``--step``
runs the day up to that step (the Airflow DAG runs one task per step).

Exit status: 0 the champion passed or a retrain was deployed, 1 an alert (no attempt passed,
or the batch was quarantined), 2 bad input.
"""

from __future__ import annotations

import argparse
import json
from datetime import date

from mmp.core.errors import MMPError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("daily", help="one day of the loop: batch, drift, evaluate, gate, retrain, deploy or alert", description=__doc__)
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("--date", required=True, help="the day, YYYY-MM-DD")
    # No `choices`: the step names live in mmp.ops.daily.loop, which `mmp --help` must not import.
    p.add_argument(
        "--step", default=None, help="run the day up to this step only: batch, drift, evaluate, gate, retrain or decide (default: all)"
    )
    p.add_argument("--attempt", type=int, default=1, help="with --step retrain: run attempts up to this one (default 1)")
    p.add_argument("--config", default="default", help="settings file conf/daily/NAME.yaml (default: default)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override one setting, e.g. gate.value=0.75; repeatable")
    p.add_argument("--json", action="store_true", help="print the day's result as JSON, on one line")
    p.set_defaults(func=run)


def parse_day(text: str, key: str = "--date") -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise MMPError(key, f"{text!r} is not a date", "YYYY-MM-DD, e.g. 2026-01-07") from None


def run(args: argparse.Namespace) -> int:
    from mmp.core.config import checkout_root
    from mmp.ops.daily.loop import run_day
    from mmp.ops.daily.settings import load_daily
    from mmp.ops.events import open_store

    day = parse_day(args.date)
    if args.attempt < 1:
        raise MMPError("--attempt", f"{args.attempt} is not an attempt number", "1 or more")
    root = checkout_root()
    settings = load_daily(root, args.config, args.set)
    with open_store(root) as store:
        result = run_day(day, settings, store, root, step=args.step, attempt=args.attempt)
    print(json.dumps(result.to_json(), sort_keys=True) if args.json else result.line())
    return result.exit_code
