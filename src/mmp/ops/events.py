"""The events store of the daily loop: one row per batch, quarantine, drift report, evaluation,
gate decision, retrain attempt, version, deployment, rollback and alert, in a SQL table
(SQLite ``events.db`` at the repository root by default, PostgreSQL by URL in dev and prod:
``events.url`` in the runtime settings, ``MMP_EVENTS_URL``).

The store is append-only: there is no update or delete. Every event has a caller-chosen
``key`` under a unique constraint, and :meth:`EventStore.append` inserts or ignores on it, so a
day that crashed halfway and is run again records each of its events exactly once; the first
payload written under a key is the one kept, and :meth:`EventStore.get` reads it back (how a
re-run finds the steps already done).
"""

from __future__ import annotations

import builtins
import json
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mmp.core.db import failure_reason, redact
from mmp.core.errors import MMPError

if TYPE_CHECKING:
    from mmp.core.settings import EventsSettings

KINDS = ("batch", "quarantine", "drift", "evaluation", "gate", "retrain_attempt", "version", "deployment", "rollback", "alert")
KEY_LENGTH = 255
SQLITE_WAIT_S = 60.0  # how long a write waits for another process's lock


@dataclass(frozen=True)
class Event:
    id: int
    created_at: datetime  # UTC
    day: date  # the day of data the event belongs to
    kind: str
    key: str
    model: str | None
    version: str | None
    payload: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "created_at": self.created_at.isoformat(),
            "day": self.day.isoformat(),
            "kind": self.kind,
            "key": self.key,
            "model": self.model,
            "version": self.version,
            "payload": self.payload,
        }


def event_key(day: date, kind: str, *parts: object) -> str:
    """The conventional key of a day's event: ``2026-01-07/retrain_attempt/2``. The same step of
    the same day always gets the same key, which is what makes a re-run idempotent."""
    return "/".join([day.isoformat(), kind, *(str(p) for p in parts)])


class EventStore:
    """An append-only table of events at a SQLAlchemy URL (created on first use)."""

    def __init__(self, url: str, table: str = "mmp_events", *, key: str = "events.url"):
        from sqlalchemy import JSON, Column, Date, DateTime, Index, Integer, MetaData, String, Table, UniqueConstraint

        self.label = f"{redact(url)} table {table}"
        self._engine = _engine(url, key)
        self._table = Table(
            table,
            MetaData(),
            Column("id", Integer, primary_key=True, autoincrement=True),
            Column("created_at", DateTime(timezone=True), nullable=False),
            Column("day", Date, nullable=False),
            Column("kind", String(32), nullable=False),
            Column("key", String(KEY_LENGTH), nullable=False),
            Column("model", String(255)),
            Column("version", String(64)),
            Column("payload", JSON, nullable=False),
            UniqueConstraint("key", name=f"{table}_key_unique"),
            Index(f"{table}_kind_day", "kind", "day"),
        )
        self._run("create the events table", self._create)

    def _create(self) -> None:
        """The table, once: two processes opening a new PostgreSQL store at once may both try to
        create it, and the one that loses the race sees the other's table on its second look."""
        from sqlalchemy.exc import SQLAlchemyError

        try:
            self._table.metadata.create_all(self._engine, checkfirst=True)
        except SQLAlchemyError:
            self._table.metadata.create_all(self._engine, checkfirst=True)

    @classmethod
    def from_settings(cls, settings: EventsSettings) -> EventStore:
        return cls(settings.url, settings.table)

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def append(
        self, kind: str, key: str, day: date, payload: dict[str, Any], *, model: str | None = None, version: str | int | None = None
    ) -> bool:
        """Record an event; True when it is new, False when an event with ``key`` was recorded
        before (then nothing is written: the first record stands)."""
        row = {
            "created_at": datetime.now(UTC),
            "day": _day(day),
            "kind": _kind(kind),
            "key": _key(key),
            "model": model,
            "version": None if version is None else str(version),
            "payload": plain(payload, "payload"),
        }
        return bool(self._run(f"record event {key!r}", lambda: self._insert_or_ignore(row)))

    def _insert_or_ignore(self, row: dict[str, Any]) -> int:
        from sqlalchemy.dialects import postgresql, sqlite
        from sqlalchemy.exc import IntegrityError

        dialect = self._engine.dialect.name
        if dialect in ("sqlite", "postgresql"):
            insert: Any = sqlite.insert if dialect == "sqlite" else postgresql.insert
            statement = insert(self._table).values(**row).on_conflict_do_nothing(index_elements=["key"])
            with self._engine.begin() as conn:
                return int(conn.execute(statement).rowcount)
        try:  # any other database: the unique constraint decides
            with self._engine.begin() as conn:
                conn.execute(self._table.insert().values(**row))
            return 1
        except IntegrityError:
            return 0

    def get(self, key: str) -> Event | None:
        """The event recorded under ``key``, or None."""
        found = self._select(self._table.select().where(self._table.c.key == key))
        return found[0] if found else None

    def list(
        self, kind: str | None = None, since: date | datetime | None = None, limit: int | None = None, model: str | None = None
    ) -> builtins.list[Event]:
        """Events in the order they were recorded (the last ``limit`` of them). ``since`` a date:
        events of that day and later (their ``day``); a datetime: events recorded at or after it
        (``created_at``; a naive datetime is UTC)."""
        t = self._table
        query = t.select()
        if kind is not None:
            query = query.where(t.c.kind == _kind(kind, "--kind"))
        if model is not None:
            query = query.where(t.c.model == model)
        if isinstance(since, datetime):
            query = query.where(t.c.created_at >= (since if since.tzinfo else since.replace(tzinfo=UTC)))
        elif since is not None:
            query = query.where(t.c.day >= since)
        if limit is not None:
            if limit < 1:
                raise MMPError("--limit", f"must be at least 1 (got {limit})", "a positive number of events")
            return list(reversed(self._select(query.order_by(t.c.id.desc()).limit(limit))))
        return self._select(query.order_by(t.c.id))

    def _select(self, query: Any) -> builtins.list[Event]:
        def read() -> builtins.list[Event]:
            with self._engine.connect() as conn:
                return [_event(row) for row in conn.execute(query).mappings()]

        return list(self._run("read events", read))

    def _run(self, what: str, action: Any) -> Any:
        """``action()``; a database failure is one line naming the store, never its password."""
        from sqlalchemy.exc import SQLAlchemyError

        try:
            return action()
        except SQLAlchemyError as err:
            raise MMPError(f"events store {self.label}", f"cannot {what}: {failure_reason(err, {})}", "a reachable database URL") from None


def _event(row: Any) -> Event:
    created = row["created_at"]
    if created.tzinfo is None:  # SQLite keeps no zone: every stored time is UTC
        created = created.replace(tzinfo=UTC)
    return Event(row["id"], created, row["day"], row["kind"], row["key"], row["model"], row["version"], dict(row["payload"]))


def _engine(url: str, key: str) -> Any:
    """An engine for ``url`` (``mmp.core.db``'s rules). A SQLite file's directory is created,
    and a writer waits for another process's lock (two days at once, a CLI reading)."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    from mmp.core.db import with_driver

    parsed = make_url(with_driver(url, key))
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed)
    database = parsed.database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    return create_engine(parsed, connect_args={"timeout": SQLITE_WAIT_S})


def _kind(kind: str, where: str = "kind") -> str:
    if kind not in KINDS:
        raise MMPError(where, f"unknown event kind {kind!r}", ", ".join(KINDS))
    return kind


def _key(key: str) -> str:
    if not isinstance(key, str) or not key.strip() or len(key) > KEY_LENGTH:
        raise MMPError("key", f"must be a non-empty string of at most {KEY_LENGTH} characters (got {key!r})", "e.g. 2026-01-07/gate")
    return key


def _day(day: Any) -> date:
    if isinstance(day, datetime) or not isinstance(day, date):
        raise MMPError("day", f"must be a date (got {type(day).__name__})", "datetime.date, e.g. date(2026, 1, 7)")
    return day


def plain(value: Any, where: str) -> Any:
    """``value`` as JSON data: numpy numbers and arrays become Python numbers and lists, dates
    ISO text, paths text, tuples lists; NaN becomes null (JSON has no NaN). Anything else is an error naming the field."""
    if isinstance(value, dict):
        return {str(k): plain(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if callable(getattr(value, "tolist", None)):
        value = value.tolist()  # numpy scalars and arrays, pandas series
    if isinstance(value, (list, tuple)):
        return [plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise MMPError(where, f"cannot be stored as JSON (a {type(value).__name__})", "numbers, text, booleans, null, lists and mappings")


def open_store(repo: Path | None = None) -> EventStore:
    """The store the runtime settings name (``events:`` in conf/env/<APP_ENV>.yaml)."""
    from mmp.core.settings import load_settings

    return EventStore.from_settings(load_settings(root=repo.resolve() if repo else None).events)


def dumps(event: Event) -> str:
    return json.dumps(event.as_json(), sort_keys=True)


TABLE_COLUMNS = ("id", "recorded (UTC)", "day", "kind", "model", "version", "key", "payload")
PAYLOAD_WIDTH = 60


def render_table(events: list[Event]) -> str:
    """The events as a plain-text table (the payload cut to a legible width; ``--json`` has it all)."""
    if not events:
        return "no events"
    rows = [
        [
            str(e.id),
            e.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            e.day.isoformat(),
            e.kind,
            e.model or "",
            e.version or "",
            e.key,
            _cut(json.dumps(e.payload, sort_keys=True), PAYLOAD_WIDTH),
        ]
        for e in events
    ]
    widths = [max(len(r[i]) for r in [list(TABLE_COLUMNS), *rows]) for i in range(len(TABLE_COLUMNS))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in [list(TABLE_COLUMNS), *rows]]
    return "\n".join(lines)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def parse_since(text: str) -> date | datetime:
    """``--since``: an ISO date (events of that day and later) or an ISO date-time (recorded at
    or after it; UTC unless it names a zone)."""
    try:
        return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
    except ValueError:
        raise MMPError("--since", f"not an ISO date or date-time (got {text!r})", "e.g. 2026-01-07 or 2026-01-07T12:00:00+00:00") from None
