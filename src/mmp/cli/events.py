"""``mmp events``: list the daily loop's events (batches, quarantines, drift reports, evaluations,
gate decisions, retrain attempts, versions, deployments, rollbacks, alerts), oldest first.

The store is `events.url` in conf/env/<APP_ENV>.yaml: `events.db` at the repository root by
default, any SQLAlchemy URL (PostgreSQL in dev and prod) through MMP_EVENTS_URL. It is
append-only: each event has a unique key, so a re-run day never records one twice.
`--since 2026-01-07` lists the events of that day and later (the day of data they belong to);
`--since 2026-01-07T12:00:00` those recorded at or after that time (UTC unless a zone is given).
`--json` prints one JSON object per line, with the whole payload.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    from mmp.ops.events import KINDS

    p = sub.add_parser(
        "events",
        help="list the daily loop's events (a table or JSON lines)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--kind", choices=KINDS, help="only events of this kind")
    p.add_argument("--model", help="only events of this registered model")
    p.add_argument("--since", metavar="ISO", help="an ISO date (events of that day and later) or date-time (recorded since)")
    p.add_argument("--limit", type=int, metavar="N", help="only the last N events")
    p.add_argument("--json", action="store_true", help="one JSON object per line instead of a table")
    p.add_argument("--repo", default=".", help="repository root, for runtime settings (default: .)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mmp.ops.events import dumps, open_store, parse_since, render_table

    since = parse_since(args.since) if args.since else None
    with open_store(Path(args.repo)) as store:
        events = store.list(kind=args.kind, since=since, limit=args.limit, model=args.model)
    for line in [dumps(e) for e in events] if args.json else [render_table(events)]:
        print(line)
    return 0
