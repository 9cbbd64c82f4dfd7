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
    p = sub.add_parser("materialize", help="fill the online feature store from the prepared data", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--prepared", type=Path, default=Path("data/prepared"), help="prepared data directory (default: data/prepared)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from mmp.errors import MMPError
    from mmp.io import read_json
    from mmp.serving import enrichment
    from mmp.serving.app import runtime_settings

    settings = runtime_settings().online_store
    if settings.kind == "none":
        raise MMPError("serving.online_store.kind", "no online store is configured", "sql, redis (set it in conf/env/<APP_ENV>.yaml)")
    schema_path = args.prepared / "schema.json"
    if not schema_path.is_file():
        raise MMPError("--prepared", f"{schema_path} does not exist", "run the pipeline first (dvc repro)")
    schema = read_json(schema_path)
    key = enrichment.entity_key(settings, schema)
    features = [c["name"] for c in schema["columns"] if c["role"] == "feature"]
    frame = pd.concat([pd.read_parquet(args.prepared / f"{split}.parquet") for split in ("train", "test")], ignore_index=True)
    frame = enrichment.latest_per_entity(frame, key, schema.get("time_col"))[[key, *features]]
    written = enrichment.open_store(settings, key).write(frame)
    print(f"materialized {written} entities into the {settings.kind} store (key {key})")
    return 0
