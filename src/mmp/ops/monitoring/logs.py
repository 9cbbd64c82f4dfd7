"""Which prediction log a monitoring command reads: ``--log DIR|URL``, else ``MMP_PREDICTION_LOG``,
else ``serving.prediction_log`` of the runtime settings (conf/env/<APP_ENV>.yaml)."""

from __future__ import annotations

import os

import pandas as pd

from mmp.core.errors import MMPError
from mmp.core.settings import PredictionLogSettings, load_settings
from mmp.data import prediction_log as L


def log_settings(target: str | None, table: str | None = None) -> PredictionLogSettings:
    target = target or os.environ.get("MMP_PREDICTION_LOG")
    settings = PredictionLogSettings().pointed_at(target) if target else load_settings().serving.prediction_log
    if table:
        settings = settings.model_copy(update={"table": table})
    if settings.kind == "none":
        raise MMPError("--log", "no prediction log is configured", "--log DIR|URL, MMP_PREDICTION_LOG or serving.prediction_log")
    return settings


def read_log(settings: PredictionLogSettings) -> pd.DataFrame:
    """The whole log, one frame (Parquet: every finished file; SQL: the table)."""
    if settings.kind == "sql":
        return L.read_sql_log(str(settings.url), settings.table)
    from pathlib import Path

    return L.read_parquet_log(Path(str(settings.path)))
