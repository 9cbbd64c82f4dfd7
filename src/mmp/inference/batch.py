"""Batch scoring: raw rows in (Parquet/CSV files or directories, or a SQL query), scored rows out
(id columns, prediction, probabilities, model name and version, a scoring timestamp).

Input is streamed in chunks, so memory stays flat whatever the input size. Every chunk is checked
against the model's data contract before it is scored; a breach stops the run with the rows and
columns named. Output goes to a temporary sibling and is renamed into place only when complete.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mmp.core.config import Contract
from mmp.core.errors import MMPError
from mmp.core.io import atomic_path
from mmp.data.contract import check_contract, coerce_dates
from mmp.inference.explain import Explanation
from mmp.inference.predlog import Entry, PredictionLog
from mmp.inference.scorer import typed_columns
from mmp.inference.wrapper import Explainable, ModelWrapper, no_explanations

FILE_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}


@dataclass(frozen=True)
class Identity:
    name: str
    version: str
    scored_at: datetime


def file_format(path: Path, what: str) -> str:
    fmt = FILE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise MMPError(what, f"{path} has an unknown file type", ", ".join(FILE_FORMATS))
    return fmt


def input_files(path: Path) -> tuple[str, list[Path]]:
    """A file, or a directory of files of one format (sorted, hidden files skipped)."""
    if path.is_file():
        return file_format(path, "--input"), [path]
    if not path.is_dir():
        raise MMPError("--input", f"{path} does not exist", "a Parquet/CSV file or a directory of them")
    files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith((".", "_")) and p.suffix.lower() in FILE_FORMATS)
    formats = {file_format(p, "--input") for p in files}
    if len(formats) != 1:
        raise MMPError("--input", f"{path} holds {'no' if not formats else 'mixed'} Parquet/CSV files", "one format per directory")
    return formats.pop(), files


def file_chunks(path: Path, chunksize: int) -> tuple[Iterator[pd.DataFrame], int | None]:
    """Chunks of the input and its row count when known cheaply (Parquet footers). Every file
    yields at least one chunk, empty for a file of 0 rows, so its columns are checked too."""
    fmt, files = input_files(path)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        total = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
        return (chunk for f in files for chunk in parquet_chunks(f, chunksize)), total
    return (chunk for f in files for chunk in csv_chunks(f, chunksize)), None


def parquet_chunks(path: Path, chunksize: int) -> Iterator[pd.DataFrame]:
    import pyarrow.parquet as pq

    source = pq.ParquetFile(path)
    if source.metadata.num_rows == 0:
        yield source.schema_arrow.empty_table().to_pandas()
        return
    # one row group at a time (no read-ahead across the file): memory is bounded by the
    # largest row group, not by the file size
    yield from (batch.to_pandas() for batch in source.iter_batches(batch_size=chunksize))


def csv_chunks(path: Path, chunksize: int) -> Iterator[pd.DataFrame]:
    try:
        reader = pd.read_csv(path, chunksize=chunksize)
    except pd.errors.EmptyDataError:
        raise MMPError("--input", f"{path} is empty: no header row", "a CSV file with a header row (and 0 or more rows)") from None
    with reader:
        yield from reader


def sql_chunks(url: str, query: str, params: Mapping[str, Any], chunksize: int) -> Iterator[pd.DataFrame]:
    """A SQL query with bound parameters (never pasted into the SQL text), streamed in chunks."""
    from pandas.errors import DatabaseError
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    from mmp.core.db import engine as make_engine
    from mmp.core.db import failure_reason

    engine = make_engine(url, "--db-url")
    try:
        with engine.connect().execution_options(stream_results=True) as conn:
            yield from pd.read_sql_query(text(query), conn, params=dict(params), chunksize=chunksize)
    except (SQLAlchemyError, DatabaseError) as err:  # pandas 3 wraps a failed statement in DatabaseError
        raise MMPError("--query", f"the query failed: {failure_reason(err, params)}") from None
    finally:
        engine.dispose()


def checked_chunk(chunk: pd.DataFrame, contract: Contract, first_row: int) -> pd.DataFrame:
    """One chunk checked against the contract, its rows numbered across the whole input."""
    chunk = chunk.set_axis(pd.RangeIndex(first_row, first_row + len(chunk)))
    chunk = coerce_dates(chunk, contract)
    check_contract(chunk, contract, targets=[])
    return chunk


@dataclass(frozen=True)
class ExplainColumns:
    """``mmp predict --explain``: ``raw_score``, ``base_value`` and ``explain_method``, then
    ``contrib_<column>`` for every raw input column, or with ``top_k`` the ``top<i>_column`` and
    ``top<i>_contribution`` pairs of each row's k largest contributions (by absolute value)."""

    top_k: int | None = None

    def names(self, scorer: ModelWrapper) -> list[str]:
        head = ["raw_score", "base_value", "explain_method"]
        if self.top_k is None:
            return [*head, *(f"contrib_{c}" for c in scorer.features)]
        return [*head, *(f"top{i}_{part}" for i in range(1, self.top_k + 1) for part in ("column", "contribution"))]

    def add(self, out: pd.DataFrame, expl: Explanation) -> None:
        out["raw_score"], out["base_value"], out["explain_method"] = expl.raw_score, expl.base_value, expl.method
        if self.top_k is None:
            for j, col in enumerate(expl.columns):
                out[f"contrib_{col}"] = expl.contributions[:, j]
            return
        k = min(self.top_k, len(expl.columns))
        values = expl.contributions
        order = np.argsort(-np.abs(values), axis=1, kind="stable")[:, :k]
        names = np.asarray(expl.columns, dtype=object)
        for i in range(self.top_k):
            out[f"top{i + 1}_column"] = names[order[:, i]] if i < k else None
            out[f"top{i + 1}_contribution"] = np.take_along_axis(values, order[:, i : i + 1], axis=1)[:, 0] if i < k else np.nan


def score_chunk(
    scorer: ModelWrapper, chunk: pd.DataFrame, contract: Contract, identity: Identity, first_row: int, explain: ExplainColumns | None = None
) -> pd.DataFrame:
    """Check one chunk against the contract and score it (and explain it, with ``explain``)."""
    chunk = checked_chunk(chunk, contract, first_row)
    ids = scorer.schema.id_cols
    out = chunk[ids].copy() if ids else pd.DataFrame(index=chunk.index)
    columns = typed_columns(chunk, scorer.schema)
    if explain is None:
        scored = scorer.predict_columns(columns, len(chunk))
    else:
        if not isinstance(scorer, Explainable):
            raise no_explanations(scorer, "--explain")
        scored, expl = scorer.explain_columns(columns, len(chunk))
    for name, values in scored.items():
        out[name] = values
    if explain is not None:
        explain.add(out, expl)
    out["model_name"] = identity.name
    out["model_version"] = identity.version
    out["scored_at"] = pd.Timestamp(identity.scored_at)
    return out


class ChunkWriter:
    """Appends scored chunks to one Parquet or CSV file."""

    def __init__(self, path: Path, fmt: str):
        self.path, self.fmt, self.rows = path, fmt, 0
        self.writer: Any = None  # a pyarrow ParquetWriter, opened with the first chunk's schema

    def write(self, frame: pd.DataFrame) -> None:
        if self.fmt == "csv":
            frame.to_csv(self.path, mode="a", header=self.rows == 0, index=False)
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(frame, preserve_index=False)
            if self.writer is None:
                self.writer = pq.ParquetWriter(self.path, table.schema, compression="zstd")
            self.writer.write_table(table)
        self.rows += len(frame)

    def close(self, empty: pd.DataFrame) -> None:
        if self.rows == 0:  # no input rows: still a valid file with the output columns
            self.write(empty)
        if self.writer is not None:
            self.writer.close()


def score_to_file(
    scorer: ModelWrapper,
    chunks: Iterator[pd.DataFrame],
    output: Path,
    identity: Identity,
    total: int | None = None,
    progress: bool = True,
    *,
    predlog: PredictionLog | None = None,
    explain: ExplainColumns | None = None,
) -> int:
    """Score (and with ``explain``, explain) every chunk into ``output`` atomically; returns the
    number of rows written. With ``predlog``, every scored row is also logged (one request id per
    chunk)."""
    from tqdm import tqdm

    fmt = file_format(output, "--output")
    if explain is not None and not isinstance(scorer, Explainable):
        raise no_explanations(scorer, "--explain")  # before an output file is opened
    contract = scorer.schema.contract()
    ids = scorer.schema.id_cols
    explained = explain.names(scorer) if explain is not None else []
    empty = pd.DataFrame(columns=[*ids, *scorer.output_columns, *explained, "model_name", "model_version", "scored_at"])
    with atomic_path(output) as tmp, tqdm(total=total, unit="rows", disable=not progress, desc="scoring") as bar:
        writer = ChunkWriter(tmp, fmt)
        try:
            for chunk in chunks:
                if chunk.empty:  # a file of 0 rows: nothing to score, but its columns must fit
                    checked_chunk(chunk, contract, writer.rows)
                    continue
                scored = score_chunk(scorer, chunk, contract, identity, writer.rows, explain)
                if predlog is not None:
                    predlog.submit(log_entry(chunk, scored, scorer, identity), block=True)  # batch waits: it never drops rows
                writer.write(scored)
                bar.update(len(chunk))
        finally:
            writer.close(empty)
    return writer.rows


def log_entry(chunk: pd.DataFrame, scored: pd.DataFrame, scorer: ModelWrapper, identity: Identity) -> Entry:
    """The prediction log's entry for one scored chunk: its raw columns and the outputs."""
    ids = scorer.schema.id_cols
    return Entry(
        inputs={str(c): chunk[c].to_numpy() for c in chunk.columns},
        outputs={c: scored[c].to_numpy() for c in scorer.output_columns},
        rows=len(chunk),
        model_name=identity.name,
        model_version=identity.version,
        entity_key=ids[0] if ids else None,
        time=identity.scored_at,
    )


def now() -> datetime:
    """The scoring timestamp (UTC); SOURCE_DATE_EPOCH pins it for reproducible outputs."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    return datetime.fromtimestamp(int(epoch), tz=UTC) if epoch else datetime.now(UTC)
