"""The Optuna RDB storage. Its URL is a runtime setting (``tune.storage`` in conf/env, or
``MMP_TUNE_STORAGE``; typed as ``mmp.core.settings.TuneSettings``), never a param: a SQLite
file at the repo root by default, PostgreSQL (or any SQLAlchemy URL) to let workers on several
machines share one study."""

from __future__ import annotations

from typing import Any

from mmp.core.errors import MMPError
from mmp.core.settings import TuneSettings


def open_storage(cfg: TuneSettings, attempts: int = 3) -> Any:
    """An ``RDBStorage`` with heartbeats: a trial whose worker stops beating for
    ``grace_period`` seconds (killed, lost) is marked failed by the next worker and re-queued
    once with the same parameters, so the study stays usable and complete.

    Workers started together on an empty database race to create Optuna's tables; the loser
    (``lost_creation_race``) waits and opens the tables the winner made."""
    import time

    from sqlalchemy.exc import SQLAlchemyError

    for attempt in range(attempts):
        try:
            return _rdb_storage(cfg)
        except Exception as err:
            if attempt < attempts - 1 and lost_creation_race(err):
                time.sleep(0.5 * (attempt + 1))
                continue
            if isinstance(err, SQLAlchemyError | ImportError | ValueError):
                raise MMPError(
                    "tune.storage",
                    f"cannot open the Optuna storage {cfg.label}: {scrub(err, cfg.url)}",
                    "a reachable SQLAlchemy URL with an installed driver",
                ) from None
            raise
    raise AssertionError("unreachable")


def lost_creation_race(err: BaseException) -> bool:
    """What a worker sees when another creates the same tables at the same moment: a duplicate
    row (IntegrityError), on PostgreSQL a duplicate enum type ("type studydirection already
    exists"), or Optuna's wrapper of either while it checks a half-made schema."""
    from optuna.exceptions import StorageInternalError
    from sqlalchemy.exc import IntegrityError, ProgrammingError

    return isinstance(err, IntegrityError | StorageInternalError) or (isinstance(err, ProgrammingError) and "already exists" in str(err))


def _rdb_storage(cfg: TuneSettings) -> Any:
    import warnings

    import optuna

    url = cfg.url
    with warnings.catch_warnings():  # heartbeats are "experimental" since Optuna 2.8
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RDBStorage(
            url,
            engine_kwargs={"pool_pre_ping": True} if not url.startswith("sqlite") else None,
            heartbeat_interval=cfg.heartbeat_interval,
            grace_period=cfg.grace_period,
            heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=1),
        )


def scrub(err: BaseException, url: str) -> str:
    """The first line of an error, with the URL's password (if any) masked."""
    from sqlalchemy.engine import make_url

    text = f"{type(err).__name__}: {err}".splitlines()[0]
    password = make_url(url).password
    return text.replace(str(password), "***") if password else text
