"""Feature views and the point-in-time join (README "Feature views").

A feature view (``data.feature_views`` in the recipe, typed as ``mmp.core.config.FeatureView``)
is a table of features keyed by an entity and stamped with an event time. Training rows (an
entity plus the row's time, ``data.time_col``) get, for each view, the latest feature values at
or before the row's time and no older than the view's ``ttl``: never a later value, and null
past the TTL. ``mmp materialize --as-of T`` asks the same join for every entity at time T, so
the online store holds exactly what a training row at T would have been given.

``data.feature_store`` picks who joins: ``pass_through`` (the default) joins nothing, the
source rows already hold the features; ``builtin`` is :func:`point_in_time_join` here;
``feast`` asks a Feast feature repository (the optional extra ``feast``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mmp.core.config import DataConfig, FeatureView
from mmp.core.errors import MMPError

ROW_TIME = "__mmp_row_time"  # the training row's time, as datetime64[ns], while joining
VIEW_TIME = "__mmp_view_time"  # the view row's event time, likewise
ORDER = "__mmp_row_order"  # the rows' own order, restored after the join sorted them by time
FEAST_HINT = (
    "install the extra: pip install 'modern-ml-pipeline[feast]' (Feast needs pandas < 3, so not beside requirements.lock); or builtin"
)


def as_ns(values: pd.Series, key: str) -> pd.Series:
    """Times as timezone-naive datetime64[ns]: merge_asof refuses keys of different units."""
    try:
        times = pd.to_datetime(values)
    except (ValueError, TypeError):
        raise MMPError(key, "holds values that are not times", "dates or timestamps") from None
    if getattr(times.dt, "tz", None) is not None:
        times = times.dt.tz_convert("UTC").dt.tz_localize(None)
    return times.astype("datetime64[ns]")


def view_problems(rows: pd.DataFrame, view_rows: pd.DataFrame, view: FeatureView) -> list[MMPError]:
    key = f"data.feature_views.{view.name}"
    errors = []
    if view.entity not in rows:
        errors.append(MMPError(f"{key}.entity", f"{view.entity!r} is not a column of the training rows", ", ".join(map(str, rows.columns))))
    missing = [c for c in (view.entity, view.event_time, *view.features) if c not in view_rows]
    if missing:
        errors.append(
            MMPError(key, f"columns {missing} are not in the view's source {view.source.location}", ", ".join(map(str, view_rows)))
        )
    clash = [f for f in view.features if f in rows]
    if clash:
        errors.append(
            MMPError(f"{key}.features", f"{clash} are already columns of the training rows", "drop them from the source or from the view")
        )
    return errors


def point_in_time_join(rows: pd.DataFrame, time_col: str, view_rows: pd.DataFrame, view: FeatureView) -> pd.DataFrame:
    """``rows`` with the view's features: each row gets the values of the view's latest row for
    its entity whose event time is at or before the row's time (an exact match counts) and at
    most ``ttl`` older; none such: null. Row order and index are kept. Among view rows with the
    same entity and event time, the last in the source wins."""
    from mmp.core.errors import raise_all

    raise_all(view_problems(rows, view_rows, view))
    row_times = as_ns(rows[time_col], f"column {time_col!r}")
    if row_times.isna().any():
        raise MMPError(f"column {time_col!r}", f"{int(row_times.isna().sum())} rows have no time; a point-in-time join needs one per row")
    left = pd.DataFrame({view.entity: rows[view.entity].to_numpy(), ROW_TIME: row_times.to_numpy(), ORDER: np.arange(len(rows))})
    right = view_rows[[view.entity, *view.features]].assign(**{VIEW_TIME: as_ns(view_rows[view.event_time], f"{view.name}.event_time")})
    right = right.dropna(subset=[view.entity, VIEW_TIME])
    if len(right) and rows[view.entity].dtype != right[view.entity].dtype:
        right[view.entity] = right[view.entity].astype(rows[view.entity].dtype)  # e.g. int ids read back as float from SQL
    try:
        joined = pd.merge_asof(
            left.sort_values(ROW_TIME, kind="stable"),
            right.sort_values(VIEW_TIME, kind="stable"),
            left_on=ROW_TIME,
            right_on=VIEW_TIME,
            by=view.entity,
            direction="backward",  # never a later value
            allow_exact_matches=True,  # a value stamped at the row's own time is known then
            tolerance=view.ttl_span,
        )
    except (pd.errors.MergeError, ValueError, TypeError) as err:
        raise MMPError(f"data.feature_views.{view.name}", f"cannot join on {view.entity!r}: {err}") from None
    features = joined.sort_values(ORDER)[view.features].set_axis(rows.index)
    return pd.concat([rows, features], axis=1)


def as_of(view_rows: pd.DataFrame, view: FeatureView, entities: Any, when: pd.Timestamp) -> pd.DataFrame:
    """Each entity's features at time ``when``: the same join as training, one row per entity."""
    probe = pd.DataFrame({view.entity: pd.Series(entities).drop_duplicates().to_numpy(), ROW_TIME: when})
    return point_in_time_join(probe, ROW_TIME, view_rows, view).drop(columns=ROW_TIME)


def feast_join(frame: pd.DataFrame, data: DataConfig) -> pd.DataFrame:
    """The same join by Feast's offline store: the views are those of the Feast feature
    repository in ``feature_repo/`` at the repository root, named as in the recipe."""
    try:
        import feast
    except ImportError:
        raise MMPError("data.feature_store", "feast is not installed", FEAST_HINT) from None
    from mmp.core.settings import repo_root

    assert data.time_col is not None
    store = feast.FeatureStore(repo_path=str(repo_root() / "feature_repo"))
    entity_df = frame.assign(event_timestamp=as_ns(frame[data.time_col], f"column {data.time_col!r}"), **{ORDER: np.arange(len(frame))})
    refs = [f"{view.name}:{feature}" for view in data.feature_views for feature in view.features]
    joined = store.get_historical_features(entity_df=entity_df, features=refs).to_df()
    return joined.sort_values(ORDER).drop(columns=[ORDER, "event_timestamp"]).set_axis(frame.index)
