"""The prediction log's row layout, shared by its writers (``mmp serve``, ``mmp predict``) and its
readers (``mmp label``, ``mmp drift``, ``mmp ab-report``).

One row per scored record: the record's raw input columns under their own names, plus the
reserved columns below. A reserved name starts with ``mmp_``, so the inputs of a log are the
columns without that prefix and can be compared with training data column by column.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from mmp.core.db import redact
from mmp.core.errors import MMPError

PREFIX = "mmp_"

REQUEST_ID = "mmp_request_id"  # one per HTTP request, or per batch chunk
ROW = "mmp_row"  # the record's position in its request
TIME = "mmp_time"  # when it was scored (UTC)
MODEL_NAME = "mmp_model_name"
MODEL_VERSION = "mmp_model_version"
VARIANT = "mmp_variant"  # "champion", "challenger", or "shadow" (scored, not returned)
ENTITY_KEY = "mmp_entity_key"  # the request's entity key value, when it has one
PREDICTION = "mmp_prediction"  # the returned prediction (class label or value)
SCORE = "mmp_score"  # the positive class's probability (binary classifiers), else null
PROBA_PREFIX = "mmp_proba_"  # mmp_proba_<class> per class (classifiers)
LABEL = "mmp_label"  # the true label, joined later by `mmp label`

VARIANTS = ("champion", "challenger", "shadow")


def input_columns(columns: Iterable[str]) -> list[str]:
    """The logged inputs: every column that is not a reserved ``mmp_`` column."""
    return [c for c in columns if not c.startswith(PREFIX)]


def log_files(directory: Path) -> list[Path]:
    """The finished files of a Parquet log, oldest first. Files still being written are hidden
    (``.name.tmp-<pid>``) until renamed into place, so a reader never sees a partial file."""
    if not directory.is_dir():
        raise MMPError("--log", f"{directory} is not a directory", "the prediction log's directory (serving.prediction_log.path)")
    return sorted(p for p in directory.glob("*.parquet") if not p.name.startswith((".", "_")))


def read_parquet_log(directory: Path) -> pd.DataFrame:
    """Every finished file of a Parquet log, one frame. File by file, so a file that gained a
    column (``mmp_label``, after ``mmp label``) keeps it: ``pd.read_parquet(dir)`` takes the
    columns of one file only."""
    files = log_files(directory)
    if not files:
        return pd.DataFrame(columns=[REQUEST_ID, ROW, TIME, MODEL_NAME, MODEL_VERSION, VARIANT, ENTITY_KEY, PREDICTION, SCORE])
    return pd.concat([pd.read_parquet(p) for p in files], ignore_index=True)


def read_sql_log(url: str, table: str) -> pd.DataFrame:
    """The whole SQL log table."""
    from sqlalchemy import inspect

    from mmp.core.db import engine as make_engine

    engine = make_engine(url, "--log")
    try:
        if not inspect(engine).has_table(table):
            raise MMPError("--log", f"no table {table!r} at {redact(url)}", "the prediction log's table (serving.prediction_log.table)")
        with engine.connect() as conn:
            return pd.read_sql_table(table, conn)
    finally:
        engine.dispose()
