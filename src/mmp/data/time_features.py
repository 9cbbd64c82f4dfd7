"""Time features (README "Time features"): for each row, features from its entity's own history
(``features.time`` in the recipe, typed as ``mmp.core.config.TimeFeatures``):

- ``<col>_lag_<k>``: the value of the k-th most recent earlier event;
- ``<col>_<agg>_<window>``: the mean, sum or count (of non-null values) over the events in
  ``[t - window, t)``;
- ``days_since_previous``: days since the most recent earlier event.

Every value uses only rows strictly earlier than the row's own time ``t``: rows at the same
time never see each other, later rows never count, so the values do not depend on the future
nor on the order of the rows. Ties among earlier rows (same entity and time) are ordered by
their values, not by their position in the file.

One function, :func:`history_features`, computes them for any (entity, time) probes against a
history: training probes each row against all rows; ``mmp materialize --as-of T`` probes every
entity at T against the prepared rows, so the online store holds what a row at T would get.
Nothing here is learned: the featurizer's imputer, fitted on the train split only, fills the
nulls of first events.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from mmp.core.config import TimeFeatures, duration
from mmp.core.errors import MMPError, raise_all

DAY_NS = 86_400 * 10**9
SINCE_PREVIOUS = "days_since_previous"


def feature_names(cfg: TimeFeatures) -> list[str]:
    names = [f"{col}_lag_{k}" for col in cfg.columns for k in cfg.lags]
    names += [f"{col}_{agg}_{window}" for col in cfg.columns for window in cfg.windows for agg in cfg.aggs]
    return names + ([SINCE_PREVIOUS] if cfg.since_previous else [])


def column_problems(frame: pd.DataFrame, entity: str, time_col: str, cfg: TimeFeatures) -> list[MMPError]:
    errors = [
        MMPError(key, f"{col!r} is not a column of the data", ", ".join(map(str, frame.columns)))
        for key, col in (("features.time.entity", entity), ("data.time_col", time_col))
        if col not in frame
    ]
    for col in cfg.columns:
        if col not in frame:
            errors.append(MMPError("features.time.columns", f"{col!r} is not a column of the data", ", ".join(map(str, frame.columns))))
        elif not ptypes.is_numeric_dtype(frame[col]) or ptypes.is_bool_dtype(frame[col]):
            errors.append(MMPError("features.time.columns", f"{col!r} is not numeric; lags and windows need numbers"))
    clash = [name for name in feature_names(cfg) if name in frame]
    if clash:
        errors.append(MMPError("features.time", f"the time features {clash} are already columns of the data", "rename those columns"))
    return errors


def _ordered(history: pd.DataFrame, entity: str, time_col: str, cfg: TimeFeatures) -> pd.DataFrame:
    """The history by entity and time, ties by value: the same rows give the same order."""
    frame = history[[entity, time_col, *cfg.columns]].copy()
    frame[time_col] = pd.to_datetime(frame[time_col]).astype("datetime64[ns]")
    frame = frame.dropna(subset=[entity, time_col])
    return frame.sort_values([entity, time_col, *cfg.columns], kind="stable", na_position="last")


def history_features(history: pd.DataFrame, probes: pd.DataFrame, entity: str, time_col: str, cfg: TimeFeatures) -> pd.DataFrame:
    """The time features of each probe (its entity at its time) from the ``history`` rows of
    that entity strictly earlier than the probe's time; indexed like ``probes``."""
    names = feature_names(cfg)
    # nothing earlier: a sum or a count of nothing is 0, every other value is null
    zero = {f"{col}_{agg}_{window}" for col in cfg.columns for window in cfg.windows for agg in cfg.aggs if agg != "mean"}
    out = {name: np.full(len(probes), 0.0 if name in zero else np.nan) for name in names}
    ordered = _ordered(history, entity, time_col, cfg)
    times = ordered[time_col].to_numpy().view("int64")
    values = {col: ordered[col].to_numpy(dtype="float64", na_value=np.nan) for col in cfg.columns}
    spans = {window: duration(window, "window").value for window in cfg.windows}
    probe_times = pd.to_datetime(probes[time_col]).astype("datetime64[ns]").to_numpy().view("int64")
    groups = ordered.groupby(entity, sort=False).indices
    for key, where in probes.groupby(entity, sort=False).indices.items():
        if key not in groups:
            continue
        rows = groups[key]  # contiguous positions of this entity in the ordered history
        t, q = times[rows], probe_times[where]
        end = np.searchsorted(t, q, side="left")  # rows before `end` are strictly earlier
        if cfg.since_previous:
            seen = end > 0
            out[SINCE_PREVIOUS][where[seen]] = (q[seen] - t[end[seen] - 1]) / DAY_NS
        for col in cfg.columns:
            v = values[col][rows]
            _lags(out, col, v, end, where, cfg.lags)
            _windows(out, col, v, t, q, end, where, spans, cfg)
    return pd.DataFrame(out, index=probes.index)


def _lags(out: dict[str, np.ndarray], col: str, v: np.ndarray, end: np.ndarray, where: np.ndarray, lags: list[int]) -> None:
    for k in lags:
        idx = end - k
        ok = idx >= 0
        out[f"{col}_lag_{k}"][where[ok]] = v[idx[ok]]


def _windows(
    out: dict[str, np.ndarray],
    col: str,
    v: np.ndarray,
    t: np.ndarray,
    q: np.ndarray,
    end: np.ndarray,
    where: np.ndarray,
    spans: dict[str, int],
    cfg: TimeFeatures,
) -> None:
    """Sums and counts over ``[q - window, q)`` from cumulative sums (nulls count as absent)."""
    present = ~np.isnan(v)
    sums = np.concatenate([[0.0], np.cumsum(np.where(present, v, 0.0))])
    counts = np.concatenate([[0], np.cumsum(present)])
    for window, span in spans.items():
        start = np.searchsorted(t, q - span, side="left")
        total, n = sums[end] - sums[start], counts[end] - counts[start]
        found = {"sum": total, "count": n.astype("float64"), "mean": np.where(n > 0, total / np.maximum(n, 1), np.nan)}
        for agg in cfg.aggs:
            out[f"{col}_{agg}_{window}"][where] = found[agg]


def add_time_features(frame: pd.DataFrame, entity: str, time_col: str, cfg: TimeFeatures) -> pd.DataFrame:
    """``frame`` with its rows' time features (each row probed against all rows)."""
    raise_all(column_problems(frame, entity, time_col, cfg))
    return pd.concat([frame, history_features(frame, frame[[entity, time_col]], entity, time_col, cfg)], axis=1)


def time_features_as_of(history: pd.DataFrame, entity: str, time_col: str, cfg: TimeFeatures, when: pd.Timestamp) -> pd.DataFrame:
    """One row per entity of ``history``: its key and its time features at ``when``."""
    probes = pd.DataFrame({entity: history[entity].dropna().drop_duplicates().to_numpy(), time_col: when})
    return pd.concat([probes[[entity]], history_features(history, probes, entity, time_col, cfg)], axis=1)
