"""Online feature stores: a request may carry only an entity key (e.g. ``customer_id``); the
server looks up that entity's stored features and merges them, the request's own values winning.

Two stores are built in: a SQL table through SQLAlchemy and Redis (one JSON document per entity
under ``<prefix><key>``). ``mmp materialize`` fills either from the prepared data. Settings (URLs,
table, prefix, what a missing entity gets) come from ``serving.online_store`` in conf/env/
(typed as ``mmp.core.settings.OnlineStoreSettings``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pandas as pd

from mmp.core.errors import MMPError
from mmp.core.settings import OnlineStoreSettings, load_settings

if TYPE_CHECKING:
    from mmp.data.schema import InputSchema


class StoreUnavailable(Exception):
    """The store could not be reached or read (a server-side condition: 503, never a 500)."""


class OnlineStore(Protocol):
    key: str

    def check(self) -> None: ...

    def get_many(self, keys: Sequence[Any]) -> dict[Any, dict[str, Any]]: ...

    def write(self, frame: pd.DataFrame) -> int: ...


class SQLStore:
    """One row per entity in ``table``; the key column is the lookup (bound parameters only)."""

    def __init__(self, url: str, table: str, key: str):
        from mmp.core.db import engine

        self.engine = engine(url, "serving.online_store.url", pool_pre_ping=True)
        self.table_name, self.key = table, key
        self._table: Any = None

    def table(self) -> Any:
        if self._table is None:
            from sqlalchemy import MetaData, Table

            self._table = Table(self.table_name, MetaData(), autoload_with=self.engine)
        return self._table

    def check(self) -> None:
        from sqlalchemy.exc import SQLAlchemyError

        try:
            table = self.table()
        except SQLAlchemyError as err:
            raise MMPError(
                "serving.online_store", f"cannot read table {self.table_name!r}: {type(err).__name__}", "run `mmp materialize` first"
            ) from None
        if self.key not in table.c:
            raise MMPError("serving.online_store.key", f"{self.key!r} is not a column of {self.table_name!r}", ", ".join(table.c.keys()))

    def get_many(self, keys: Sequence[Any]) -> dict[Any, dict[str, Any]]:
        from sqlalchemy import select
        from sqlalchemy.exc import SQLAlchemyError

        table = self.table()
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(select(table).where(table.c[self.key].in_(list(keys)))).mappings().all()
        except SQLAlchemyError as err:
            raise StoreUnavailable(type(err).__name__) from None
        return {row[self.key]: dict(row) for row in rows}

    def write(self, frame: pd.DataFrame) -> int:
        """Replace the table in one transaction (readers never see a half-filled table)."""
        with self.engine.begin() as conn:
            frame.to_sql(self.table_name, conn, if_exists="replace", index=False, chunksize=5000)
        self._table = None
        return len(frame)


class RedisStore:
    def __init__(self, url: str, prefix: str, key: str):
        import redis

        self.client = redis.Redis.from_url(url)
        self.prefix, self.key = prefix, key

    def check(self) -> None:
        import redis

        try:
            self.client.ping()
        except redis.RedisError as err:
            raise MMPError("serving.online_store.url", f"cannot reach Redis: {type(err).__name__}") from None

    def get_many(self, keys: Sequence[Any]) -> dict[Any, dict[str, Any]]:
        import redis

        try:
            values = self.client.mget([f"{self.prefix}{k}" for k in keys])
        except redis.RedisError as err:
            raise StoreUnavailable(type(err).__name__) from None
        return {k: json.loads(v) for k, v in zip(keys, values, strict=True) if v is not None}

    def write(self, frame: pd.DataFrame) -> int:
        records = json.loads(frame.to_json(orient="records", date_format="iso"))
        with self.client.pipeline(transaction=True) as pipe:
            for record in records:
                pipe.set(f"{self.prefix}{record[self.key]}", json.dumps(record))
            pipe.execute()
        return len(records)


def entity_key(settings: OnlineStoreSettings, schema: InputSchema) -> str:
    key = settings.key or next(iter(schema.id_cols), None)
    names = schema.names
    if key is None or key not in names:
        raise MMPError("serving.online_store.key", f"{key!r} is not an input column of the model", ", ".join(names))
    return key


def open_store(settings: OnlineStoreSettings, key: str) -> OnlineStore | None:
    if settings.kind == "none" or settings.url is None:  # a url is required unless kind is none
        return None
    if settings.kind == "sql":
        return SQLStore(settings.url, settings.table, key)
    return RedisStore(settings.url, settings.prefix, key)


def merge(requested: Iterable[dict[str, Any]], stored: dict[Any, dict[str, Any]], key: str, columns: set[str]) -> list[dict[str, Any]]:
    """Stored features under the request's own values (only the fields the request set)."""
    return [{**{k: v for k, v in stored.get(r[key], {}).items() if k in columns}, **r} for r in requested]


def materialize(prepared: Path, params_file: Path, when: pd.Timestamp | None = None) -> tuple[int, str, str]:
    """Write each entity's online features at ``when`` (default: now) to the configured store:
    (rows written, store kind, key). With feature views or time features (the schema's
    ``online_features``) they are computed by the training code (:mod:`mmp.data.online`);
    otherwise they are the model's feature columns of the entity's latest prepared row."""
    from mmp.data.online import latest_at, online_rows
    from mmp.data.schema import InputSchema

    settings = load_settings().serving.online_store
    if settings.kind == "none":
        raise MMPError("serving.online_store.kind", "no online store is configured", "sql, redis (set it in conf/env/<APP_ENV>.yaml)")
    schema_path = prepared / "schema.json"
    if not schema_path.is_file():
        raise MMPError("--prepared", f"{schema_path} does not exist", "run the pipeline first (dvc repro)")
    schema = InputSchema.read(schema_path)
    key = entity_key(settings, schema)
    frame = pd.concat([pd.read_parquet(prepared / f"{split}.parquet") for split in ("train", "test")], ignore_index=True)
    if schema.online_features:
        from mmp.core.config import load_params

        rows = online_rows(frame, load_params(params_file), key, pd.Timestamp.now("UTC").tz_localize(None) if when is None else when)
        if list(rows.columns[1:]) != schema.online_features:
            raise MMPError(str(params_file), "its feature views or time features differ from the prepared data's", "run `dvc repro` first")
    else:
        rows = latest_at(frame, key, schema.time_col, when)[[key, *schema.feature_names]]
    store = open_store(settings, key)
    assert store is not None  # kind is sql or redis here
    return store.write(rows), settings.kind, key
