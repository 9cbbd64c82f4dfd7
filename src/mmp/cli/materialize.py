"""``mmp materialize``: fill the online feature store, as of a time.

Writes one record per entity, under the entity key, to the store configured under
`serving.online_store` in conf/env/<APP_ENV>.yaml (kind: sql or redis); the server then
enriches requests that carry only the key. With feature views or time features in the recipe,
the record holds exactly those features, computed by the training code at --as-of (default:
now): the view values at or before that time within their TTL, and the time features from the
prepared rows strictly earlier, as a training row at that time got them. Without, it holds the
model's feature columns of the entity's latest prepared row at or before --as-of.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "materialize",
        help="fill the online feature store from the feature views and the prepared data",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--prepared", type=Path, default=Path("data/prepared"), help="prepared data directory (default: data/prepared)")
    p.add_argument("--params", type=Path, default=Path("params.yaml"), help="the recipe that defines the views (default: params.yaml)")
    p.add_argument("--as-of", metavar="TIME", help="the time the features are as of, e.g. 2021-06-30T12:00 (default: now, UTC)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mmp.serving.enrichment import materialize

    when = None if args.as_of is None else as_of(args.as_of)
    written, kind, key = materialize(args.prepared, args.params, when)
    print(f"materialized {written} entities into the {kind} store (key {key})")
    return 0


def as_of(text: str) -> Any:
    """``--as-of`` as a timezone-naive UTC timestamp (the prepared times are naive)."""
    import pandas as pd

    from mmp.core.errors import MMPError

    try:
        when = pd.Timestamp(text)
    except ValueError:
        raise MMPError("--as-of", f"{text!r} is not a time", "e.g. 2021-06-30 or 2021-06-30T12:00") from None
    if pd.isna(when):
        raise MMPError("--as-of", f"{text!r} is not a time", "e.g. 2021-06-30 or 2021-06-30T12:00")
    return when.tz_convert("UTC").tz_localize(None) if when.tzinfo else when
