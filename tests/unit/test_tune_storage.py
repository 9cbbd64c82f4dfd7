"""Workers started together on an empty database race to create Optuna's tables: the losers
retry and open the winner's tables; any other failure is one clear error."""

from __future__ import annotations

import time
from typing import Any

import pytest
from optuna.exceptions import StorageInternalError
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from mmp.core.errors import MMPError
from mmp.core.settings import TuneSettings
from mmp.tuning import storage

SETTINGS = TuneSettings(storage="postgresql://postgres@127.0.0.1:5432/never_opened")
# What two Dask workers got on a fresh PostgreSQL database (CI, tests/on_dask/test_tune.py).
DUPLICATE_TYPE = ProgrammingError("CREATE TYPE studydirection", {}, Exception('type "studydirection" already exists'))


def failing(*errors: BaseException) -> Any:
    queue = list(errors)

    def rdb_storage(cfg: TuneSettings) -> str:
        if queue:
            raise queue.pop(0)
        return "storage"

    return rdb_storage


@pytest.mark.parametrize(
    "lost",
    [DUPLICATE_TYPE, IntegrityError("INSERT", {}, Exception("duplicate key")), StorageInternalError("during the commit")],
    ids=["duplicate type", "duplicate row", "half-made schema"],
)
def test_a_worker_that_lost_the_race_to_create_the_tables_opens_them(lost: BaseException, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "sleep", lambda s: None)
    monkeypatch.setattr(storage, "_rdb_storage", failing(lost))
    assert storage.open_storage(SETTINGS) == "storage"


def test_other_failures_and_a_race_lost_every_time_are_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "sleep", lambda s: None)
    monkeypatch.setattr(storage, "_rdb_storage", failing(OperationalError("connect", {}, Exception("connection refused"))))
    with pytest.raises(MMPError, match="tune.storage: cannot open the Optuna storage"):
        storage.open_storage(SETTINGS)
    monkeypatch.setattr(storage, "_rdb_storage", failing(DUPLICATE_TYPE, DUPLICATE_TYPE, DUPLICATE_TYPE))
    with pytest.raises(MMPError, match="already exists"):
        storage.open_storage(SETTINGS)
