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
    gets an IntegrityError and simply opens the tables the winner made."""
    import time

    from sqlalchemy.exc import IntegrityError, SQLAlchemyError

    for attempt in range(attempts):
        try:
            return _rdb_storage(cfg)
        except IntegrityError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.5 * (attempt + 1))
        except (SQLAlchemyError, ImportError, ValueError) as err:
            raise MMPError(
                "tune.storage",
                f"cannot open the Optuna storage {cfg.label}: {scrub(err, cfg.url)}",
                "a reachable SQLAlchemy URL with an installed driver",
            ) from None
    raise AssertionError("unreachable")


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
