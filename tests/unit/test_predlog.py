"""The prediction log's writer (``mmp.inference.predlog``): rows as the layout names them, Parquet
files that appear only when complete and rotate by size and age, everything written on close,
a full queue that drops and counts (never silently)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from mmp.core.settings import PredictionLogSettings
from mmp.data import prediction_log as L
from mmp.inference.predlog import Entry, ParquetSink, PredictionLog, open_log, to_table


def entry(rid: str, rows: int = 2, variant: str = "champion") -> Entry:
    inputs = {"customer_id": list(range(rows)), "age": [41.0] * rows, "region": ["south"] * rows}
    outputs = {"prediction": np.zeros(rows, dtype=int), "proba_0": np.full(rows, 0.8), "proba_1": np.full(rows, 0.2)}
    return Entry(inputs, outputs, rows, "credit-default", "3", variant, rid, "customer_id")


def settings(tmp_path: Path, **extra: object) -> PredictionLogSettings:
    return PredictionLogSettings(kind="parquet", path=str(tmp_path / "log"), **extra)  # type: ignore[arg-type]


def visible(directory: Path) -> list[Path]:
    return L.log_files(directory)


def test_rows_follow_the_layout() -> None:
    table = to_table([entry("a", 2), entry("b", 1, "shadow")], {"age": pa.float64()})
    frame = table.to_pandas()
    assert list(frame.columns[:3]) == ["customer_id", "age", "region"] and L.input_columns(frame.columns) == [
        "customer_id",
        "age",
        "region",
    ]
    assert frame[L.REQUEST_ID].tolist() == ["a", "a", "b"] and frame[L.ROW].tolist() == [0, 1, 0]
    assert frame[L.VARIANT].tolist() == ["champion", "champion", "shadow"]
    assert frame[L.ENTITY_KEY].tolist() == ["0", "1", "0"]  # keys as text: int and str ids alike
    assert frame[L.SCORE].tolist() == [0.2, 0.2, 0.2] and frame[L.PREDICTION].tolist() == [0, 0, 0]
    assert str(table.schema.field(L.TIME).type) == "timestamp[us, tz=UTC]"


def test_close_writes_every_row_and_the_file_appears_only_complete(tmp_path: Path) -> None:
    log = open_log(settings(tmp_path, flush_seconds=0.05))
    assert log is not None
    for i in range(50):
        log.submit(entry(f"r{i}"))
    time.sleep(0.3)  # the writer has written a batch into the open file ...
    directory = tmp_path / "log"
    assert visible(directory) == [] and any(p.name.startswith(".part-") for p in directory.iterdir())  # ... under a hidden temp name
    log.close()
    files = visible(directory)
    assert len(files) == 1 and not [p for p in directory.iterdir() if p.name.startswith(".")]
    frame = pd.read_parquet(directory)
    assert len(frame) == 100 and frame[L.REQUEST_ID].nunique() == 50
    assert log.stats["written"] == 100 and log.stats["dropped"] == 0


def test_files_rotate_by_size_and_by_age(tmp_path: Path) -> None:
    small = ParquetSink(tmp_path / "size", max_bytes=1, max_seconds=3600)
    for i in range(3):
        small.write(to_table([entry(f"s{i}")], {}))
    assert len(visible(tmp_path / "size")) == 3  # every write passes 1 byte: one file each
    aged = ParquetSink(tmp_path / "age", max_bytes=10**9, max_seconds=0.2)
    aged.write(to_table([entry("t0")], {}))
    assert visible(tmp_path / "age") == []
    time.sleep(0.25)
    aged.tick()  # the writer thread ticks at least every flush_seconds
    assert len(visible(tmp_path / "age")) == 1
    assert len(pd.read_parquet(tmp_path / "size")) == 6


class SlowSink:
    def __init__(self) -> None:
        self.release = threading.Event()
        self.rows = 0

    def write(self, table: pa.Table) -> None:
        self.release.wait()
        self.rows += table.num_rows

    def tick(self) -> None:
        pass

    def close(self) -> None:
        pass


def test_a_full_queue_drops_and_counts_and_close_still_writes_what_was_accepted(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    sink = SlowSink()
    log = PredictionLog(sink, settings(tmp_path, queue_size=3, batch_rows=1, max_wait_ms=1))
    accepted = sum(log.submit(entry(f"r{i}", 1)) for i in range(10))
    started = time.perf_counter()
    assert not log.submit(entry("late", 1))
    assert time.perf_counter() - started < 0.5  # a request waits max_wait_ms, not for the sink
    assert log.stats["dropped"] == 11 - accepted > 0
    assert "prediction log:" in caplog.text and "dropped" in caplog.text
    sink.release.set()
    log.close()
    assert sink.rows == accepted == log.stats["written"]


def test_pointed_at_reads_a_directory_or_a_url(tmp_path: Path) -> None:
    base = PredictionLogSettings()
    assert base.pointed_at(str(tmp_path)).kind == "parquet" and base.pointed_at(f"parquet:{tmp_path}").path == str(tmp_path)
    sql = base.pointed_at("postgresql://u:secret@h/db")
    assert sql.kind == "sql" and "secret" not in sql.label and base.pointed_at("none").kind == "none"
