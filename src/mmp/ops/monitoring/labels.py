"""``mmp label``: join later-arriving true labels into the prediction log.

A labels file (Parquet or CSV) uses the log's own column names: ``mmp_label`` (the true label)
and the key: ``mmp_request_id`` (the X-Request-ID of the response; with ``mmp_row``, the
record's position in its request, one record, else every record of the request) or
``mmp_entity_key`` (the entity's key, e.g. the customer id: every logged row of that entity).
A label given again replaces the earlier one, so re-running is harmless. Labels whose key is
not in the log are reported (count and the first few), never dropped silently.

Parquet log: each file holding a labelled row is rewritten atomically (temp + rename) with the
``mmp_label`` column, its other columns and types unchanged. SQL log: one transaction adds the
``mmp_label`` column when missing and updates the matching rows.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from mmp.core.errors import MMPError
from mmp.core.io import atomic_path
from mmp.core.settings import PredictionLogSettings
from mmp.data import prediction_log as L

On = Literal["request_id", "entity"]
SHOW_UNKNOWN = 5


@dataclass
class LabelResult:
    labels: int  # labels given
    matched: int  # of them, found in the log
    rows: int  # log rows labelled
    unknown: list[Any] = field(default_factory=list)  # keys not in the log (all of them)

    def summary(self, where: str) -> str:
        line = f"labelled {self.rows} logged rows in {where} from {self.matched} of {self.labels} labels"
        if self.unknown:
            shown = ", ".join(map(str, self.unknown[:SHOW_UNKNOWN]))
            line += f"; {len(self.unknown)} labels have no logged row (first: {shown})"
        return line


def read_labels(path: Path, on: On) -> tuple[pd.DataFrame, list[str]]:
    """The labels file, its key columns checked and typed as the log holds them."""
    if not path.is_file():
        raise MMPError("--input", f"{path} does not exist", "a Parquet or CSV file of labels")
    if path.suffix.lower() not in (".parquet", ".pq", ".csv"):
        raise MMPError("--input", f"{path} has an unknown file type", ".parquet, .csv")
    labels = pd.read_csv(path) if path.suffix.lower() == ".csv" else pd.read_parquet(path)
    keys = [L.REQUEST_ID, *([L.ROW] if L.ROW in labels.columns else [])] if on == "request_id" else [L.ENTITY_KEY]
    missing = [c for c in (*keys, L.LABEL) if c not in labels.columns]
    if missing:
        raise MMPError("--input", f"{path} has no column(s) {missing}", f"{' + '.join(keys)} and {L.LABEL} (--on {on})")
    labels = labels[[*keys, L.LABEL]].dropna(subset=[L.LABEL])
    for key in keys:
        labels[key] = labels[key].astype("int64") if key == L.ROW else labels[key].map(_key_text)
    duplicated = labels.duplicated(keys)
    if duplicated.any():
        raise MMPError(
            "--input", f"{int(duplicated.sum())} labels repeat a key ({labels[keys][duplicated].iloc[0].tolist()})", "one label per key"
        )
    return labels.reset_index(drop=True), keys


def _key_text(value: Any) -> str:
    """A key as the log holds it (text): 17 and 17.0 (a CSV's float column) are both "17"."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def label_log(settings: PredictionLogSettings, labels: pd.DataFrame, keys: list[str]) -> LabelResult:
    if settings.kind == "parquet":
        return label_parquet(Path(str(settings.path)), labels, keys)
    if settings.kind == "sql":
        return label_sql(str(settings.url), settings.table, labels, keys)
    raise MMPError("--log", "no prediction log to label", "--log DIR|URL, MMP_PREDICTION_LOG or serving.prediction_log")


def label_parquet(directory: Path, labels: pd.DataFrame, keys: list[str]) -> LabelResult:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    found = pd.Series(False, index=labels.index)
    rows = 0
    lookup = labels.assign(_label_index=labels.index)
    for path in L.log_files(directory):
        table = pq.read_table(path)
        logged = table.select(keys).to_pandas()
        for key in keys:
            logged[key] = logged[key].astype("int64") if key == L.ROW else logged[key].astype(str)
        merged = logged.merge(lookup, on=keys, how="left", validate="many_to_one")
        hit = merged["_label_index"].notna().to_numpy()
        if not hit.any():
            continue
        found[merged.loc[hit, "_label_index"].astype(int).unique()] = True
        new = pa.array(merged[L.LABEL], from_pandas=True)
        if L.LABEL in table.column_names:  # keep earlier labels of rows not labelled now
            old = table.column(L.LABEL).combine_chunks()
            new = pc.if_else(pa.array(hit), new.cast(old.type) if old.type != pa.null() else new, old)
            table = table.set_column(table.column_names.index(L.LABEL), L.LABEL, new)
        else:
            table = table.append_column(L.LABEL, new)
        with atomic_path(path) as tmp:
            pq.write_table(table, tmp, compression="zstd")
        rows += int(hit.sum())
    return _result(labels, keys, found, rows)


def label_sql(url: str, table: str, labels: pd.DataFrame, keys: list[str]) -> LabelResult:
    """One transaction: add ``mmp_label`` if missing, load the labels into a scratch table,
    UPDATE ... FROM it, count the matches, drop the scratch table."""
    from sqlalchemy import Float, Text, inspect, text

    from mmp.core.db import engine as make_engine

    engine = make_engine(url, "--log")
    scratch = f"mmp_labels_{uuid.uuid4().hex[:12]}"
    try:
        with engine.begin() as conn:
            if not inspect(conn).has_table(table):
                raise MMPError("--log", f"no table {table!r} in the database", "the prediction log's table (serving.prediction_log.table)")
            q = conn.dialect.identifier_preparer.quote
            if L.LABEL not in {c["name"] for c in inspect(conn).get_columns(table)}:
                kind = Float() if pd.api.types.is_numeric_dtype(labels[L.LABEL]) else Text()
                conn.execute(text(f"ALTER TABLE {q(table)} ADD COLUMN {q(L.LABEL)} {kind.compile(dialect=conn.dialect)}"))
            labels.to_sql(scratch, conn, index=False)
            match = " AND ".join(f"{q(table)}.{q(k)} = s.{q(k)}" for k in keys)
            updated = conn.execute(text(f"UPDATE {q(table)} SET {q(L.LABEL)} = s.{q(L.LABEL)} FROM {q(scratch)} AS s WHERE {match}"))
            seen = f"SELECT {', '.join('s.' + q(k) for k in keys)} FROM {q(scratch)} AS s WHERE EXISTS (SELECT 1 FROM {q(table)} WHERE {match})"
            matched = pd.DataFrame(conn.execute(text(seen)).fetchall(), columns=keys)
            conn.execute(text(f"DROP TABLE {q(scratch)}"))
    finally:
        engine.dispose()
    found = labels[keys].merge(matched.assign(_hit=True), on=keys, how="left")["_hit"].notna()
    return _result(labels, keys, found, int(updated.rowcount))


def _result(labels: pd.DataFrame, keys: list[str], found: pd.Series, rows: int) -> LabelResult:
    unknown = labels.loc[~found.to_numpy(), keys]
    shown = unknown[keys[0]].tolist() if len(keys) == 1 else [tuple(r) for r in unknown.itertuples(index=False)]
    return LabelResult(labels=len(labels), matched=int(found.sum()), rows=rows, unknown=shown)
