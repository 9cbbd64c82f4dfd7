"""The Optuna RDB storage. Its URL is a runtime setting (``tune.storage`` in conf/env, or
``MMP_TUNE_STORAGE``), never a param: a SQLite file at the repo root by default, PostgreSQL
(or any SQLAlchemy URL) to let workers on several machines share one study."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mmp.core.db import redact, with_driver
from mmp.core.errors import MMPError


@dataclass(frozen=True)
class StorageSettings:
    url: str
    heartbeat_interval: int = 10
    grace_period: int = 30

    @property
    def label(self) -> str:
        """The URL with any password hidden: the only form ever printed."""
        return redact(self.url)


def storage_settings(settings: Any) -> StorageSettings:
    """``tune.*`` of the resolved runtime settings (``mmp.core.settings.load_settings()``)."""
    from omegaconf import OmegaConf

    url = OmegaConf.select(settings, "tune.storage")
    if not url:
        raise MMPError("tune.storage", "no Optuna storage URL in the runtime settings", "set tune.storage in conf/env/<APP_ENV>.yaml or MMP_TUNE_STORAGE")
    try:
        heartbeat = int(OmegaConf.select(settings, "tune.heartbeat_interval", default=10))
        grace = int(OmegaConf.select(settings, "tune.grace_period", default=30))
    except ValueError:
        raise MMPError("tune.heartbeat_interval", "heartbeat_interval and grace_period must be whole seconds") from None
    if heartbeat < 1 or grace < heartbeat:
        raise MMPError("tune.grace_period", f"need heartbeat_interval >= 1 and grace_period >= heartbeat_interval (got {heartbeat}, {grace})")
    return StorageSettings(with_driver(str(url), "tune.storage"), heartbeat, grace)


def open_storage(cfg: StorageSettings, attempts: int = 3) -> Any:
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
            raise MMPError("tune.storage", f"cannot open the Optuna storage {cfg.label}: {scrub(err, cfg.url)}", "a reachable SQLAlchemy URL with an installed driver") from None
    raise AssertionError("unreachable")


def _rdb_storage(cfg: StorageSettings) -> Any:
    import warnings

    import optuna

    with warnings.catch_warnings():  # heartbeats are "experimental" since Optuna 2.8
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RDBStorage(
            cfg.url,
            engine_kwargs={"pool_pre_ping": True} if not cfg.url.startswith("sqlite") else None,
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
