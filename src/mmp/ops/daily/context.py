"""One day of the loop: where its files go, its events (keyed by day, step and attempt, so a
re-run reads what a killed run recorded instead of doing it again) and the registry."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mmp.core.errors import MMPError
from mmp.ops.daily.settings import DailySettings

if TYPE_CHECKING:
    from mmp.ops.events import EventStore


def event_key(day: date, step: str, attempt: int = 0) -> str:
    """``2026-01-07/gate``, ``2026-01-07/retrain_attempt/2``: the same step of the same day
    always gets the same key (the events store's convention, ``mmp.ops.events.event_key``)."""
    return "/".join([day.isoformat(), step, *([str(attempt)] if attempt else [])])


@dataclass
class Day:
    day: date
    settings: DailySettings
    store: EventStore
    root: Path
    _recorded: dict[str, dict[str, Any]] | None = field(default=None, repr=False)

    # -- events ------------------------------------------------------------------------------
    def done(self, step: str, attempt: int = 0) -> dict[str, Any] | None:
        """The payload a step of this day recorded, or None when it has not run to its end."""
        if self._recorded is None:
            prefix = f"{self.day.isoformat()}/"
            self._recorded = {e.key: dict(e.payload) for e in self.store.list(since=self.day) if e.key.startswith(prefix)}
        return self._recorded.get(event_key(self.day, step, attempt))

    def record(self, kind: str, step: str, payload: dict[str, Any], attempt: int = 0) -> dict[str, Any]:
        key = event_key(self.day, step, attempt)
        version = payload.get("version")
        self.store.append(kind, key, self.day, payload, model=self.model_name, version=None if version is None else str(version))
        if self._recorded is not None:
            self._recorded[key] = payload
        return payload

    # -- files -------------------------------------------------------------------------------
    @property
    def stamp(self) -> str:
        return self.day.isoformat()

    def batch_path(self, day: date | None = None) -> Path:
        """The part of a day's batch that joins the training window."""
        return self.root / self.settings.workdir / "batches" / f"{(day or self.day).isoformat()}.parquet"

    @property
    def holdout_path(self) -> Path:
        """The part of the day's batch every model is evaluated on."""
        return self.root / self.settings.workdir / "holdout" / f"{self.stamp}.parquet"

    @property
    def quarantine_path(self) -> Path:
        return self.root / self.settings.workdir / "quarantine" / f"{self.stamp}.parquet"

    def window_path(self, attempt: int) -> Path:
        return self.root / self.settings.workdir / "windows" / f"{self.stamp}-attempt{attempt}.parquet"

    @property
    def report_dir(self) -> Path:
        return self.root / self.settings.reports / self.stamp

    # -- the recipe and the registry -----------------------------------------------------------
    @cached_property
    def params(self) -> Any:
        from mmp.core.config import load_params

        return load_params(self.root / "params.yaml")

    @cached_property
    def model_name(self) -> str:
        return str(self.params.model_name)

    @cached_property
    def tracking_uri(self) -> str:
        from mmp.core.settings import load_settings

        return str(load_settings(root=self.root).mlflow.tracking_uri)

    @cached_property
    def client(self) -> Any:
        from mmp.core.settings import load_settings
        from mmp.ops.tracking.mirror import connect

        return connect(load_settings(root=self.root).mlflow).client

    def version(self, alias: str) -> Any:
        from mmp.ops.tracking.registry import version_by_alias

        return version_by_alias(self.client, self.model_name, alias)

    def champion(self) -> Any:
        from mmp.ops.tracking.registry import champion_alias

        found = self.version(champion_alias())
        if found is None:
            raise MMPError(
                f"registered model {self.model_name!r}",
                "has no champion to evaluate",
                "train and deploy one first: `dvc exp run` then `mmp promote`",
            )
        return found

    def package(self, version: str) -> Path:
        """The registered version's package, downloaded once under the work directory."""
        import mlflow.artifacts

        from mmp.core.io import atomic_path

        dest = self.root / self.settings.workdir / "models" / f"{self.model_name}-{version}"
        if not dest.is_dir():
            with atomic_path(dest) as tmp:
                mlflow.artifacts.download_artifacts(
                    artifact_uri=f"models:/{self.model_name}/{version}", dst_path=str(tmp), tracking_uri=self.tracking_uri
                )
        return dest
