"""``mmp materialize``: fill the online feature store from the prepared data.

Writes the latest row per entity (by the time column) of data/prepared/{train,test}.parquet,
the entity key plus the model's feature columns, to the store configured under
`serving.online_store` in conf/env/<APP_ENV>.yaml (kind: sql or redis). The server then
enriches requests that carry only the entity key.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "materialize",
        help="fill the online feature store from the prepared data",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--prepared", type=Path, default=Path("data/prepared"), help="prepared data directory (default: data/prepared)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mmp.serving.enrichment import materialize

    written, kind, key = materialize(args.prepared)
    print(f"materialized {written} entities into the {kind} store (key {key})")
    return 0
