"""Hot swap: a server started with ``--model models:/<name>@<alias>`` follows the alias.

Every ``MMP_POLL_SECONDS`` (``mmp serve --poll-seconds``; default 30, 0 = off) a background
thread asks the registry which version the alias names. When it names another one, the thread
fetches and loads that version beside the served one, checks it (the same input interface and
outputs, and a prediction on the package's own example row), and hands it to ``swap``, which
replaces the one reference the requests read. A request already running keeps the scorer it
started with; a version that fails to load or to check is logged in one line, the served model
stays, and that version is not tried again until the alias moves once more. Each ``--workers``
process runs its own poller. Other model sources (a directory, a pinned version, a run) have
nothing to follow.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import pandas as pd

from mmp.core.errors import MMPError
from mmp.core.tracking import prepare_tracking
from mmp.inference.wrapper import ModelWrapper
from mmp.serving.loader import ModelRef, fetched_spec, load_scorer, registry_tracking_uri

log = logging.getLogger("mmp.serving.swap")
POLL_ENV = "MMP_POLL_SECONDS"
DEFAULT_POLL_SECONDS = 30.0

Swap = Callable[[ModelRef, ModelWrapper], None]


def poll_seconds(env: Mapping[str, str]) -> float:
    """The polling interval from ``MMP_POLL_SECONDS`` (seconds, 0 = off; default 30)."""
    given = env.get(POLL_ENV, "").strip()
    if not given:
        return DEFAULT_POLL_SECONDS
    try:
        seconds = float(given)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0 or seconds == float("inf"):
        raise MMPError(POLL_ENV, f"got {given!r}", "a number of seconds >= 0 (0: do not follow the alias)")
    return seconds


def followed_alias(source: str) -> tuple[str, str] | None:
    """(name, alias) of a ``models:/name@alias`` source; None for a source that cannot move."""
    if not source.startswith("models:/") or "@" not in source:
        return None
    name, alias = source.removeprefix("models:/").split("@", 1)
    return name, alias


class AliasPoller:
    """Follows one registry alias in a daemon thread and swaps to each new version it names."""

    def __init__(self, served: ModelRef, scorer: ModelWrapper, interval: float, env: Mapping[str, str], swap: Swap):
        followed = followed_alias(served.source)
        assert followed is not None  # see follower()
        self.name, self.alias = followed
        self.served, self.scorer, self.interval, self.env, self.swap = served, scorer, interval, dict(env), swap
        self.rejected: str | None = None  # the last version that failed to load or check
        self.problem: str | None = None  # the last registry error, logged once
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._client: Any = None

    def describe(self) -> dict[str, object]:
        return {"alias": f"{self.name}@{self.alias}", "poll_seconds": self.interval, "rejected_version": self.rejected}

    def start(self) -> None:
        """Open the registry now (importing mlflow and opening a SQL store take seconds: the
        server is ready once it can follow the alias), then poll in the background."""
        self.alias_version()
        self._thread = threading.Thread(target=self._run, name="mmp-alias-poller", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.poll()

    def poll(self) -> bool:
        """One look at the alias; True when a new version now serves."""
        version = self.alias_version()
        log.debug("@%s names version %s (serving %s)", self.alias, version, self.served.version)
        if version == self.served.version:
            self.rejected = None  # the alias came back: a refused version may be tried again when named anew
        if version is None or version in (self.served.version, self.rejected):
            return False
        try:
            with fetched_spec(f"models:/{self.name}/{version}", self.env) as ref:
                scorer = load_scorer(ref)
            check_replacement(self.scorer, scorer)
        except Exception as err:  # any failure keeps the served model: the server must not stop
            self.rejected = version
            log.warning(
                "kept %s version %s: version %s of @%s failed to load (%s)", self.name, self.served.version, version, self.alias, err
            )
            return False
        ref = replace(ref, source=self.served.source, path="")  # the fetched directory is gone; the scorer holds the model
        self.swap(ref, scorer)
        log.info("swapped %s version %s -> %s (@%s moved)", self.name, self.served.version, version, self.alias)
        self.served, self.scorer, self.rejected = ref, scorer, None
        gc.unfreeze()  # let the old model go, then freeze the new one like the first (app.create_app)
        gc.collect()
        gc.freeze()
        return True

    def client(self) -> Any:
        """One registry client for every poll (opening a SQL store checks its schema: seconds)."""
        if self._client is None:
            from mlflow import MlflowClient

            uri = registry_tracking_uri(self.env)
            prepare_tracking(uri)  # capped HTTP retries: a dead server costs seconds, not minutes, per poll
            self._client = MlflowClient(uri)
        return self._client

    def alias_version(self) -> str | None:
        """The version the alias names now (None, logged once, while the registry cannot say)."""
        try:
            version = str(self.client().get_model_version_by_alias(self.name, self.alias).version)
        except Exception as err:  # an unreachable registry or a deleted alias: keep serving, say it once
            first = (str(err).strip().splitlines() or [type(err).__name__])[0]
            if first != self.problem:
                log.warning("cannot read %s@%s (keeping version %s): %s", self.name, self.alias, self.served.version, first)
            self.problem = first
            return None
        self.problem = None
        return version


def check_replacement(served: ModelWrapper, new: ModelWrapper) -> None:
    """Refuse a model that cannot answer the served model's requests the same way: other inputs
    or task, other output columns, or a failing prediction on its own example row."""
    differs = served.schema.difference(new.schema)
    if differs is not None:
        raise MMPError("the new version", f"takes other inputs ({differs})", "a model with the same input interface")
    if new.output_columns != served.output_columns:
        raise MMPError("the new version", f"answers {new.output_columns}, not {served.output_columns}", "the same outputs")
    smoke = new.predict(pd.DataFrame([new.schema.example or served.schema.example]))
    if len(smoke) != 1:
        raise MMPError("the new version", f"answered {len(smoke)} rows for one", "one prediction per record")


def follower(served: ModelRef, scorer: ModelWrapper, env: Mapping[str, str], swap: Swap) -> AliasPoller | None:
    """The poller for a server of ``served`` (None when its source is no alias or polling is off)."""
    interval = poll_seconds(env)
    if interval == 0 or followed_alias(served.source) is None:
        return None
    return AliasPoller(served, scorer, interval, env, swap)
