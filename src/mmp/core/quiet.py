"""MLflow's console chatter, turned off once for every entry point that uses MLflow (the `mmp`
command, the serving app factory, the package stage). Errors and warnings still show."""

from __future__ import annotations

import logging
import os

# Environment defaults MLflow reads: no per-file download bar, no emoji "View run" links on
# stdout. setdefault: a user who wants them back sets the variable.
MLFLOW_ENV = {
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
}
# MLflow logs the creation and migration of a SQLite store at INFO on every first use, which
# is every queued run (each runs in a fresh process): set-up, not news.
QUIET_LOGGERS = ("mlflow.store.db.utils", "alembic.runtime.migration")


def quiet_mlflow() -> None:
    for name, value in MLFLOW_ENV.items():
        os.environ.setdefault(name, value)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
