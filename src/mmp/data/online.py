"""What the online store holds for each entity at a time ``when``: the same values a training
row of that entity at ``when`` was given (README "Feature views", "Time features").

- feature views joined by the ``builtin`` store: :func:`mmp.data.feature_views.as_of`, the
  training join itself, probed at ``when`` (values at or before it, within the TTL);
- views under ``pass_through`` (the source rows already hold their features): the values of the
  entity's latest prepared row at or before ``when``;
- time features: :func:`mmp.data.time_features.history_features` over the prepared rows
  strictly earlier than ``when``, as for a training row at ``when``.

The columns are the schema's ``online_features``; ``mmp materialize`` writes them under the
entity key, and the server takes exactly those from the store.
"""

from __future__ import annotations

import pandas as pd

from mmp.core.config import DataConfig, Params, TimeFeatures
from mmp.core.errors import MMPError


def online_features(data: DataConfig, time: TimeFeatures | None) -> list[str]:
    """The features an online store supplies at serving, in the order prepare adds them."""
    from mmp.data.time_features import feature_names

    views = [f for view in data.feature_views for f in view.features]
    return views + (feature_names(time) if time is not None and time.enabled else [])


def latest_at(frame: pd.DataFrame, key: str, time_col: str | None, when: pd.Timestamp | None) -> pd.DataFrame:
    """One row per entity: its most recent row at or before ``when`` (by the time column when
    there is one; ``when`` None: the latest of all)."""
    if time_col and time_col in frame:
        if when is not None:
            frame = frame[pd.to_datetime(frame[time_col]) <= when]
        frame = frame.sort_values(time_col, kind="stable")
    return frame.drop_duplicates(key, keep="last").reset_index(drop=True)


def online_rows(history: pd.DataFrame, params: Params, key: str, when: pd.Timestamp) -> pd.DataFrame:
    """The key and the online features of every entity at ``when`` (``history``: the prepared
    rows), computed by the code that computed them for training."""
    from mmp.data.feature_views import as_of
    from mmp.data.sources import load_view
    from mmp.data.time_features import history_features

    data, time = params.data, params.features.time
    if data.feature_store == "feast":
        raise MMPError("data.feature_store", "feast fills its own online store", "run `feast materialize` in feature_repo/")
    entities = {view.entity for view in data.feature_views} | ({time.entity_in(data)} if time.enabled else set())
    if entities - {key}:
        raise MMPError("serving.online_store.key", f"the store is keyed by {key!r}, the features by {sorted(entities)}", "one entity key")
    views = [(view, load_view(view, params.seed)) for view in data.feature_views if data.feature_store == "builtin"]
    known = pd.concat([history[key], *(rows[key] for _, rows in views)], ignore_index=True).dropna().drop_duplicates()
    out = pd.DataFrame({key: known.to_numpy()})
    for view, rows in views:
        out = out.merge(as_of(rows, view, out[key], when), on=key, how="left")
    passed = [f for view in data.feature_views for f in view.features] if data.feature_store == "pass_through" else []
    if passed:
        out = out.merge(latest_at(history, key, data.time_col, when)[[key, *passed]], on=key, how="left")
    if time.enabled:
        assert data.time_col is not None  # Params requires it with time features
        probes = pd.DataFrame({key: out[key], data.time_col: when})
        out = pd.concat([out, history_features(history, probes, key, data.time_col, time)], axis=1)
    return out[[key, *online_features(data, time)]]
