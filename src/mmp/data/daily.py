"""The day's labelled rows, from one of four sources (``SourceSettings.kind``):

- ``synthetic``: ``rows`` rows sampled from the distribution model (``mmp synth fit``), seeded by
  the date, with the drift knobs of the scenario (``conf/daily/scenario/<name>.yaml``) for that
  day: day 1 is ``start``, and the knobs apply from day ``drift_from`` on;
- ``files``: the files a glob matches, the day's strftime codes filled in
  (``landing/%Y-%m-%d/*.parquet``); with ``date_col``, only the rows of that day;
- ``partitioned``: a Hive-style directory, ``<directory>/<partition>=<YYYY-MM-DD>/`` (every
  Parquet/CSV/JSON file in it);
- ``sql``: a query file (``.sql`` or ``.sql.j2``, as ``mmp.data.sql``) run on a database of the
  runtime settings, the day bound as the parameter ``:<date_param>``, never pasted into SQL.
"""

from __future__ import annotations

import glob as globbing
from datetime import date
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import yaml
from pydantic import Field, model_validator

from mmp.core.errors import MMPError
from mmp.core.parsing import Strict, parse
from mmp.data.knobs import DriftKnobs

__all__ = ["DriftKnobs", "Scenario", "SourceSettings", "day_batch", "load_scenario", "scenario_names"]

SCENARIO_DIR = Path("conf") / "daily" / "scenario"
DEFAULT_DISTRIBUTION = "models/distribution/copula.json"
SourceKind = Literal["synthetic", "files", "partitioned", "sql"]
# The settings each kind reads: any other one set is a mistake, reported as such.
KIND_KEYS: dict[str, tuple[str, ...]] = {
    "synthetic": ("distribution", "rows", "scenario", "start", "drift_from", "seed", "knobs"),
    "files": ("glob", "date_col"),
    "partitioned": ("directory", "partition"),
    "sql": ("query", "database", "date_param", "params"),
}
REQUIRED = {"files": ("glob",), "partitioned": ("directory",), "sql": ("query", "database")}


class Scenario(Strict):
    """Drift knobs by day: none before day ``drift_from`` (day 1 is the first day), ``knobs`` from it on."""

    description: str = ""
    drift_from: int = Field(default=1, ge=1)
    knobs: DriftKnobs = Field(default_factory=DriftKnobs)

    def knobs_on(self, day_index: int) -> DriftKnobs:
        return self.knobs if day_index >= self.drift_from else DriftKnobs()


class SourceSettings(Strict):
    kind: SourceKind = "synthetic"
    # synthetic
    distribution: str = DEFAULT_DISTRIBUTION  # a copula.json (relative to the repository root)
    rows: int = Field(default=1000, gt=0)
    scenario: str = "stable"  # conf/daily/scenario/<name>.yaml
    start: date = date(2026, 1, 1)  # day 1 of the scenario
    drift_from: int | None = Field(default=None, ge=1)  # overrides the scenario's
    seed: int = 0
    knobs: DriftKnobs | None = None  # instead of the scenario's (every day)
    # files
    glob: str | None = None
    date_col: str | None = None
    # partitioned
    directory: str | None = None
    partition: str = "date"
    # sql
    query: str | None = None
    database: str | None = None
    date_param: str = "day"
    params: dict[str, str | int | float | bool | None] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _keys_of_the_kind(self) -> SourceSettings:
        stray = sorted(k for k in self.model_fields_set if k != "kind" and k not in KIND_KEYS[self.kind])
        if stray:
            raise ValueError(f"{stray[0]} is not a setting of kind {self.kind} (its settings: {', '.join(KIND_KEYS[self.kind])})")
        missing = [k for k in REQUIRED.get(self.kind, ()) if getattr(self, k) is None]
        if missing:
            raise ValueError(f"kind {self.kind} needs {' and '.join(missing)}")
        return self

    def day_index(self, day: date) -> int:
        return (day - self.start).days + 1


def scenario_names(root: Path) -> list[str]:
    return sorted(p.stem for p in (root / SCENARIO_DIR).glob("*.yaml"))


def load_scenario(root: Path, name: str) -> Scenario:
    """``conf/daily/scenario/<name>.yaml``, typed (one error line naming the file and key)."""
    path = root / SCENARIO_DIR / f"{name}.yaml"
    if not path.is_file():
        raise MMPError("source.scenario", f"no scenario {name!r}", ", ".join(scenario_names(root)) or "none in conf/daily/scenario/")
    source = (SCENARIO_DIR / f"{name}.yaml").as_posix()
    return parse(Scenario, yaml.safe_load(path.read_text()) or {}, source=source)


def knobs_for(settings: SourceSettings, day: date, root: Path) -> DriftKnobs:
    """The drift knobs of ``day``: the settings' own, else the scenario's for the day's index."""
    if settings.knobs is not None:
        return settings.knobs
    scenario = load_scenario(root, settings.scenario)
    if settings.drift_from is not None:
        scenario = scenario.model_copy(update={"drift_from": settings.drift_from})
    return scenario.knobs_on(settings.day_index(day))


def day_batch(settings: SourceSettings, day: date, *, root: Path | None = None, runtime: Any = None) -> pd.DataFrame:
    """The labelled rows of ``day`` from the configured source (``root``: the repository, where
    relative paths start; ``runtime``: the runtime settings a SQL source's database is read from)."""
    from mmp.core.settings import repo_root

    root = root or repo_root()
    readers = {"synthetic": _synthetic, "files": _files, "partitioned": _partitioned, "sql": _sql}
    frame = readers[settings.kind](settings, day, root, runtime)
    if frame.empty:
        raise MMPError(f"source ({settings.kind})", f"has no rows for {day.isoformat()}", "a source that holds the day's labelled rows")
    return frame.reset_index(drop=True)


def _synthetic(settings: SourceSettings, day: date, root: Path, runtime: Any) -> pd.DataFrame:
    from mmp.data import copula

    model = copula.load(root / settings.distribution)
    return copula.sample(model, settings.rows, day, knobs=knobs_for(settings, day, root), seed=settings.seed)


def _files(settings: SourceSettings, day: date, root: Path, runtime: Any) -> pd.DataFrame:
    from mmp.data.sources import read_file

    assert settings.glob is not None  # the validator requires it
    pattern = day.strftime(settings.glob)
    paths = sorted(globbing.glob(str(root / pattern), recursive=True))
    if not paths:
        raise MMPError("source.glob", f"no file matches {pattern!r} for {day.isoformat()}", "a glob, with strftime codes for the day")
    frame = pd.concat([read_file(p, "source.glob") for p in paths], ignore_index=True)
    if settings.date_col is None:
        return frame
    if settings.date_col not in frame:
        raise MMPError("source.date_col", f"column {settings.date_col!r} is not in the files", ", ".join(map(str, frame.columns)))
    stamps = pd.to_datetime(frame[settings.date_col], errors="coerce")
    return frame[(stamps.dt.date == day).to_numpy()]


def _partitioned(settings: SourceSettings, day: date, root: Path, runtime: Any) -> pd.DataFrame:
    from mmp.data.sources import FILE_FORMATS, read_file

    assert settings.directory is not None  # the validator requires it
    folder = root / settings.directory / f"{settings.partition}={day.isoformat()}"
    files = sorted(p for p in folder.glob("*") if p.suffix.lower() in FILE_FORMATS) if folder.is_dir() else []
    if not files:
        where = f"{settings.directory}/{settings.partition}={day.isoformat()}"
        raise MMPError("source.directory", f"no partition {where} (or no data file in it)", f"{', '.join(FILE_FORMATS)} files in it")
    return pd.concat([read_file(str(p), "source.directory") for p in files], ignore_index=True)


def _sql(settings: SourceSettings, day: date, root: Path, runtime: Any) -> pd.DataFrame:
    from mmp.core.settings import load_settings
    from mmp.data.sql import read_sql

    assert settings.query is not None and settings.database is not None  # the validator requires them
    params = {**settings.params, settings.date_param: day}
    uri = f"sql://{settings.database}/{settings.query}"
    return read_sql(uri, params, {}, {}, runtime or load_settings(), root)
