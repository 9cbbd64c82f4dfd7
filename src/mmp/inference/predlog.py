"""The prediction log's writer: every scored row of ``mmp serve`` and ``mmp predict --log`` goes,
off the request path, to rotating Parquet files or a SQL table (row layout:
:mod:`mmp.data.prediction_log`).

A request only puts its columns (the lists or arrays it already holds) on a bounded queue; one
background thread turns queued requests into Arrow tables, a batch at a time, and hands them to
the sink. So logging costs a request one queue put, whatever the sink.

A full queue (the sink slower than the traffic for a while): a request waits at most
``max_wait_ms`` for room, then its rows are DROPPED and counted, never silently: a warning line
(at most one per 10 s, with the running total) and :attr:`PredictionLog.stats` (``/metadata``).
Batch scoring waits instead (``block=True``): it has no latency to protect. A clean shutdown
(FastAPI lifespan, SIGTERM to uvicorn, the end of ``mmp predict``) drains the queue and closes
the sink: every accepted row is written.

Parquet sink: a file is written under a hidden temporary name (``.<name>.tmp-<pid>``) and renamed
into place when it is closed (past ``max_bytes`` or ``max_seconds``, or at shutdown), so
``pd.read_parquet(dir)`` never sees a partial file. SQL sink: each batch is one INSERT in one
transaction (pandas ``to_sql`` through SQLAlchemy).
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import chain
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pyarrow as pa

from mmp.core.db import failure_reason
from mmp.core.errors import MMPError
from mmp.core.io import remove_dead_temps, temp_path
from mmp.core.settings import PredictionLogSettings
from mmp.data import prediction_log as L
from mmp.data.schema import InputSchema

log = logging.getLogger("mmp.inference.predlog")
WARN_EVERY_S = 10.0
POLL_S = 0.1  # how often the writer thread takes what is queued
ARROW_TYPES = {"int": pa.int64(), "float": pa.float64(), "bool": pa.bool_(), "datetime": pa.timestamp("us")}
RESERVED_TYPES = {
    L.REQUEST_ID: pa.string(),
    L.ROW: pa.int32(),
    L.TIME: pa.timestamp("us", tz="UTC"),
    L.MODEL_NAME: pa.string(),
    L.MODEL_VERSION: pa.string(),
    L.VARIANT: pa.string(),
    L.ENTITY_KEY: pa.string(),
    L.SCORE: pa.float64(),
}


def new_request_id() -> str:
    """128 random bits as 32 hex digits (uuid4's shape without its version bits: a quarter of
    uuid4's cost, paid on every request)."""
    return os.urandom(16).hex()


@dataclass
class Entry:
    """One scored request (or batch chunk): its input and output columns as the scorer saw and
    returned them (lists or arrays, not copied), and who scored it."""

    inputs: Mapping[str, Any]  # name -> list or array of the rows' values
    outputs: Mapping[str, Any]
    rows: int
    model_name: str
    model_version: str
    variant: str = "champion"
    request_id: str = field(default_factory=new_request_id)
    entity_key: str | None = None  # the input column holding the entity key, if any
    time: datetime = field(default_factory=lambda: datetime.now(UTC))
    positions: Sequence[int] | None = None  # the rows' places in their request (A/B splits one request), else 0..rows-1


class RecordColumns(Mapping[str, list[Any]]):
    """The columns of a request's validated records, read only when the writer thread asks: the
    request itself pays for no per-field copy."""

    def __init__(self, records: Sequence[Any], names: Sequence[str]):
        self.records, self.names = records, names

    def __getitem__(self, name: str) -> list[Any]:
        if name not in self.names:
            raise KeyError(name)
        return [getattr(r, name, None) for r in self.records]

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)


class Sink(Protocol):
    def write(self, table: pa.Table) -> None: ...
    def tick(self) -> None: ...
    def close(self) -> None: ...


class PredictionLog:
    """A bounded queue and one writer thread in front of a sink."""

    def __init__(self, sink: Sink, settings: PredictionLogSettings, schema: InputSchema | None = None):
        self.sink, self.settings = sink, settings
        self.types = {c.name: ARROW_TYPES.get(c.dtype, pa.string()) for c in schema.columns} if schema else {}
        self._queue: queue.Queue[Entry] = queue.Queue(maxsize=settings.queue_size)
        self._stop = threading.Event()
        self.written = self.dropped = self.failed = 0
        self._lock = threading.Lock()
        self._warned_at = 0.0
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="mmp-prediction-log", daemon=True)
        self._thread.start()

    @property
    def stats(self) -> dict[str, Any]:
        return {
            "to": self.settings.label,
            "written": self.written,
            "dropped": self.dropped,
            "failed": self.failed,
            "pending": self._queue.qsize(),
        }

    def submit(self, entry: Entry, block: bool = False) -> bool:
        """Queue one request's rows; False (and counted) when dropped. ``block``: wait for room
        however long it takes (batch scoring), else at most ``max_wait_ms``."""
        if self._closed:
            raise RuntimeError("the prediction log is closed")
        try:
            if block:
                self._queue.put(entry)
            else:
                self._queue.put(entry, timeout=self.settings.max_wait_ms / 1000)
            return True
        except queue.Full:
            self._count_lost(entry.rows, "dropped", "the queue is full (the sink is slower than the traffic)")
            return False

    def close(self) -> None:
        """Write every queued row, close the sink (its last file renamed into place)."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()  # every entry accepted so far is drained and written first
        self._thread.join()
        log.info(
            "prediction log closed: %s rows written to %s (%s dropped, %s failed)",
            self.written,
            self.settings.label,
            self.dropped,
            self.failed,
        )

    def __enter__(self) -> PredictionLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _count_lost(self, rows: int, kind: str, why: str) -> None:
        with self._lock:
            setattr(self, kind, getattr(self, kind) + rows)
            now = time.monotonic()
            if now - self._warned_at < WARN_EVERY_S:
                return
            self._warned_at = now
        log.warning("prediction log: %s rows %s so far: %s", getattr(self, kind), kind, why)

    def _run(self) -> None:
        """Wake every POLL_S (not on every put: a wake-up per request would hand the GIL to this
        thread on every request), take what is queued, write a batch when it is big or old
        enough; at close, write everything and close the sink."""
        batch: list[Entry] = []
        rows, first_at, stopping = 0, 0.0, False
        flush_s = self.settings.flush_seconds
        while not stopping:
            stopping = self._stop.wait(min(POLL_S, flush_s))
            while True:  # after the stop signal: until the queue is empty
                try:
                    entry = self._queue.get_nowait()
                except queue.Empty:
                    break
                first_at = first_at if batch else time.monotonic()
                batch.append(entry)
                rows += entry.rows
                if rows >= self.settings.batch_rows:
                    self._write(batch, rows)
                    batch, rows = [], 0
            if batch and (stopping or time.monotonic() - first_at >= flush_s):
                self._write(batch, rows)
                batch, rows = [], 0
            self._guarded(self.sink.tick)
        self._guarded(self.sink.close)

    def _write(self, batch: list[Entry], rows: int) -> None:
        try:
            self.sink.write(to_table(batch, self.types))
            self.written += rows
        except Exception as err:  # a sink failure loses this batch, loudly; the server keeps serving
            self._count_lost(rows, "failed", f"the sink failed ({type(err).__name__}: {failure_reason(err, {})})")

    def _guarded(self, step: Any) -> None:
        try:
            step()
        except Exception as err:
            log.error("prediction log: %s failed (%s: %s)", getattr(step, "__name__", "sink"), type(err).__name__, err)


def to_table(batch: list[Entry], types: Mapping[str, pa.DataType]) -> pa.Table:
    """The log rows of a batch of entries: inputs under their own names, then the reserved columns."""
    inputs = list(dict.fromkeys(chain.from_iterable(e.inputs for e in batch)))
    outputs = list(dict.fromkeys(chain.from_iterable(e.outputs for e in batch)))
    columns: dict[str, pa.Array] = {}
    for name in inputs:
        columns[name] = _array([e.inputs.get(name, [None] * e.rows) for e in batch], types.get(name))
    repeat = lambda value: list(chain.from_iterable([value(e)] * e.rows for e in batch))  # noqa: E731
    columns[L.REQUEST_ID] = pa.array(repeat(lambda e: e.request_id), pa.string())
    columns[L.ROW] = pa.array(
        np.concatenate([np.arange(e.rows, dtype=np.int32) if e.positions is None else np.asarray(e.positions, np.int32) for e in batch]),
        pa.int32(),
    )
    columns[L.TIME] = pa.array(repeat(lambda e: e.time), RESERVED_TYPES[L.TIME])
    columns[L.MODEL_NAME] = pa.array(repeat(lambda e: e.model_name), pa.string())
    columns[L.MODEL_VERSION] = pa.array(repeat(lambda e: e.model_version), pa.string())
    columns[L.VARIANT] = pa.array(repeat(lambda e: e.variant), pa.string())
    columns[L.ENTITY_KEY] = pa.array(list(chain.from_iterable(_entity_keys(e) for e in batch)), pa.string())
    for name in outputs:  # prediction (or prediction_<target>), proba_<class>
        columns[f"{L.PREFIX}{name}"] = _array([e.outputs.get(name, [None] * e.rows) for e in batch], None)
    probas = [f"{L.PREFIX}{n}" for n in outputs if n.startswith("proba_")]
    binary = len(probas) == 2  # the score is the positive (second) class's probability
    columns[L.SCORE] = columns[probas[1]].cast(pa.float64()) if binary else pa.nulls(sum(e.rows for e in batch), pa.float64())
    return pa.table(columns)


def _entity_keys(entry: Entry) -> list[str | None]:
    """The entity key of each row as text (int and str ids alike), null without a key column."""
    values = entry.inputs.get(entry.entity_key) if entry.entity_key else None
    if values is None:
        return [None] * entry.rows
    return [None if v is None else str(v) for v in values]


def _array(parts: list[Sequence[Any]], kind: pa.DataType | None) -> pa.Array:
    """One column from the parts of several entries, typed as the model's schema declares (a
    column that is null in one batch keeps its type, so every file of the log has one schema)."""
    if all(isinstance(p, np.ndarray) for p in parts):
        values: Any = np.concatenate(parts) if len(parts) > 1 else parts[0]
    else:
        values = list(chain.from_iterable(p.tolist() if isinstance(p, np.ndarray) else p for p in parts))
    try:
        return pa.array(values, type=kind, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # e.g. ISO text for a datetime column: as sent
        return pa.array(values, from_pandas=True)


class ParquetSink:
    """Rotating Parquet files in a directory, each renamed into place once closed."""

    def __init__(self, directory: Path, max_bytes: int, max_seconds: float):
        self.directory, self.max_bytes, self.max_seconds = Path(directory), max_bytes, max_seconds
        self.directory.mkdir(parents=True, exist_ok=True)
        remove_dead_temps(self.directory)  # files a killed writer left unfinished (no footer: unreadable)
        self._writer: Any = None
        self._final: Path | None = None
        self._opened_at = 0.0
        self._seq = 0

    def write(self, table: pa.Table) -> None:
        import pyarrow.parquet as pq

        if self._writer is not None and not table.schema.equals(self._writer.schema):
            try:
                table = table.cast(self._writer.schema)
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, ValueError):
                self._rotate()  # new columns (a new model version, say): a new file
        if self._writer is None:
            self._seq += 1
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
            self._final = self.directory / f"part-{stamp}-{os.getpid()}-{self._seq:05d}.parquet"
            self._writer = pq.ParquetWriter(temp_path(self._final), table.schema, compression="zstd")
            self._opened_at = time.monotonic()
        self._writer.write_table(table)
        self.tick()

    def tick(self) -> None:
        if self._writer is None or self._final is None:
            return
        too_old = time.monotonic() - self._opened_at >= self.max_seconds
        if too_old or temp_path(self._final).stat().st_size >= self.max_bytes:
            self._rotate()

    def _rotate(self) -> None:
        if self._writer is None or self._final is None:
            return
        self._writer.close()
        os.replace(temp_path(self._final), self._final)
        self._writer = None

    def close(self) -> None:
        self._rotate()


class SqlSink:
    """Appends each batch to a table (created by the first batch), in one transaction."""

    def __init__(self, url: str, table: str):
        from mmp.core.db import engine

        self.table = table
        self.engine = engine(url, "serving.prediction_log.url", pool_pre_ping=True)

    def check(self) -> None:
        """Connect once, so an unreachable database stops the server at start."""
        from sqlalchemy import text

        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def write(self, table: pa.Table) -> None:
        frame = table.to_pandas()
        with self.engine.begin() as conn:
            frame.to_sql(self.table, conn, if_exists="append", index=False, chunksize=1000, method="multi")

    def tick(self) -> None:
        pass

    def close(self) -> None:
        self.engine.dispose()


def open_log(settings: PredictionLogSettings, schema: InputSchema | None = None) -> PredictionLog | None:
    """The log the settings name, its writer started; None when the log is off."""
    if settings.kind == "none":
        return None
    sink: Sink
    if settings.kind == "parquet":
        sink = ParquetSink(Path(str(settings.path)), settings.max_bytes, settings.max_seconds)
    else:
        sql = SqlSink(str(settings.url), settings.table)
        try:
            sql.check()
        except Exception as err:
            sql.close()
            raise MMPError("serving.prediction_log.url", f"cannot connect ({failure_reason(err, {})})", "a reachable database") from None
        sink = sql
    log.info("prediction log: writing to %s", settings.label)
    return PredictionLog(sink, settings, schema)


__all__ = ["Entry", "ParquetSink", "PredictionLog", "SqlSink", "new_request_id", "open_log", "to_table"]
