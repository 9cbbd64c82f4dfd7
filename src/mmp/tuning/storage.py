"""The Optuna RDB storage. Its URL is a runtime setting (``tune.storage`` in conf/env, or
``MMP_TUNE_STORAGE``), never a param: a SQLite file at the repo root by default, PostgreSQL
(or any SQLAlchemy URL) to let workers on several machines share one study."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mmp.errors import MMPError


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
    """``tune.*`` of the resolved runtime settings (``mmp.settings.load_settings()``)."""
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
    return StorageSettings(str(url), heartbeat, grace)


def redact(url: str) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable storage URL>"


def open_storage(cfg: StorageSettings) -> Any:
    """An ``RDBStorage`` with heartbeats: a trial whose worker stops beating for
    ``grace_period`` seconds (killed, lost) is marked failed by the next worker and re-queued
    once with the same parameters, so the study stays usable and complete."""
    import warnings

    import optuna
    from sqlalchemy.exc import SQLAlchemyError

    try:
        with warnings.catch_warnings():  # heartbeats are "experimental" since Optuna 2.8
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(
                cfg.url,
                engine_kwargs={"pool_pre_ping": True} if not cfg.url.startswith("sqlite") else None,
                heartbeat_interval=cfg.heartbeat_interval,
                grace_period=cfg.grace_period,
                heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=1),
            )
    except (SQLAlchemyError, ImportError, ValueError) as err:
        raise MMPError("tune.storage", f"cannot open the Optuna storage {cfg.label}: {type(err).__name__}", "a reachable SQLAlchemy URL") from None
