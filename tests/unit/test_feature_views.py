"""The point-in-time join on a hand-built table where every entity has a later value than each
of its rows: none leaks, an exact-time value counts, values past the TTL are null; the
feature-view config and the Feast switch."""

from __future__ import annotations

import pandas as pd
import pytest

from mmp.core.config import DataConfig, FeatureView, parse
from mmp.core.errors import MMPError
from mmp.data.feature_views import as_of, point_in_time_join
from mmp.data.sources import join_views

T = pd.Timestamp


def view(ttl: str | None = "5d") -> FeatureView:
    return FeatureView(name="profile", entity="user", event_time="at", features=["score"], ttl=ttl, source={"uri": "profile.csv"})


# Each user's score is stamped on days 1, 4 and 20: for every training row a later one exists.
VIEW_ROWS = pd.DataFrame(
    {
        "user": ["a", "a", "a", "b", "b", "b"],
        "at": [T("2024-01-01"), T("2024-01-04"), T("2024-01-20"), T("2024-01-01"), T("2024-01-04"), T("2024-01-20")],
        "score": [1.0, 4.0, 20.0, 101.0, 104.0, 120.0],
    }
).sample(frac=1, random_state=0)  # the source's order does not matter


def rows() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user": ["b", "a", "a", "b", "a", "b"],
            "when": [
                T("2024-01-03 23:59"),  # b: day 1 value (day 4 is later)
                T("2024-01-04"),  # a: exactly day 4: the value stamped at the row's own time counts
                T("2024-01-05"),  # a: day 4
                T("2023-12-31"),  # b: before any value: null
                T("2024-01-12"),  # a: day 4 is 8 days old, past the 5-day TTL: null (day 20 is later)
                T("2024-01-09"),  # b: day 4 is exactly 5 days old: within the TTL
            ],
            "label": [0, 1, 0, 1, 0, 1],
        },
        index=[10, 11, 12, 13, 14, 15],
    )


def test_each_row_gets_the_latest_value_at_or_before_its_time_never_a_later_one() -> None:
    joined = point_in_time_join(rows(), "when", VIEW_ROWS, view())
    assert list(joined.index) == [10, 11, 12, 13, 14, 15] and list(joined.columns) == ["user", "when", "label", "score"]
    assert joined["score"].tolist() == pytest.approx([101.0, 4.0, 4.0, float("nan"), float("nan"), 104.0], nan_ok=True)
    stamps = VIEW_ROWS.set_index(["user", "score"])["at"]
    for _, row in joined.dropna().iterrows():  # no value is stamped after its row
        assert stamps[(row["user"], row["score"])] <= row["when"]


def test_without_a_ttl_old_values_never_expire() -> None:
    joined = point_in_time_join(rows(), "when", VIEW_ROWS, view(ttl=None))
    assert joined["score"].tolist() == pytest.approx([101.0, 4.0, 4.0, float("nan"), 4.0, 104.0], nan_ok=True)


def test_as_of_is_the_same_join_for_every_entity_at_one_time() -> None:
    at = T("2024-01-09")
    online = as_of(VIEW_ROWS, view(), ["a", "b", "zed"], at)
    joined = point_in_time_join(rows().assign(when=at), "when", VIEW_ROWS, view())
    assert online.set_index("user")["score"].to_dict() == pytest.approx({"a": 4.0, "b": 104.0, "zed": float("nan")}, nan_ok=True)
    assert joined.groupby("user")["score"].first().to_dict() == {"a": 4.0, "b": 104.0}


def test_join_problems_are_one_line_each() -> None:
    with pytest.raises(MMPError, match=r"^data\.feature_views\.profile\.features: \['score'\] are already columns"):
        point_in_time_join(rows().assign(score=1.0), "when", VIEW_ROWS, view())
    with pytest.raises(MMPError, match=r"^data\.feature_views\.profile: columns \['score'\] are not in the view's source profile\.csv"):
        point_in_time_join(rows(), "when", VIEW_ROWS.drop(columns="score"), view())
    with pytest.raises(MMPError, match=r"^column 'when': 1 rows have no time"):
        point_in_time_join(rows().assign(when=[None, *rows()["when"][1:]]), "when", VIEW_ROWS, view())


def data(**overrides: object) -> dict:
    base = {"source_uri": "rows.csv", "target_col": "label", "task_type": "binary", "time_col": "when", "contract": None}
    return {**base, **overrides}


def test_feature_view_config_is_checked() -> None:
    good = {"name": "profile", "entity": "user", "event_time": "at", "features": ["score"], "ttl": "7d", "source": {"uri": "p.csv"}}
    cfg = parse(DataConfig, data(feature_views=[good], feature_store="builtin"), "data")
    assert cfg.feature_views[0].ttl_span == pd.Timedelta(days=7) and cfg.feature_store == "builtin"
    assert parse(DataConfig, data(), "data").feature_store == "pass_through"  # the default joins nothing
    bad = [
        ({**good, "ttl": "soon"}, "is not a time span"),
        ({**good, "source": {"uri": "p.csv", "query": "sql://w/q.sql"}}, "exactly one of uri"),
        ({**good, "source": {"query": "w/q.sql"}}, "data.feature_views.0.source.query"),
    ]
    for entry, message in bad:
        with pytest.raises(MMPError, match=message):
            parse(DataConfig, data(feature_views=[entry]), "data")
    with pytest.raises(MMPError, match="feature view names must be unique"):
        parse(DataConfig, data(feature_views=[good, good]), "data")
    with pytest.raises(MMPError, match="needs data.time_col"):
        parse(DataConfig, data(feature_views=[good], feature_store="builtin", time_col=None), "data")


def test_a_view_from_a_file_is_joined_by_the_builtin_store(tmp_path) -> None:
    VIEW_ROWS.to_csv(tmp_path / "profile.csv", index=False)
    entry = {"name": "profile", "entity": "user", "event_time": "at", "features": ["score"], "ttl": "5d"}
    cfg = parse(DataConfig, data(feature_views=[{**entry, "source": {"uri": str(tmp_path / "profile.csv")}}], feature_store="builtin"))
    assert join_views(rows(), cfg, 0)["score"].tolist() == pytest.approx([101.0, 4.0, 4.0, float("nan"), float("nan"), 104.0], nan_ok=True)
    assert "score" not in join_views(rows(), cfg.model_copy(update={"feature_store": "pass_through"}), 0)
    missing = parse(DataConfig, data(feature_views=[{**entry, "source": {"uri": str(tmp_path / "nope.csv")}}], feature_store="builtin"))
    with pytest.raises(MMPError, match=r"^data\.feature_views\.profile\.source\.uri: file not found"):
        join_views(rows(), missing, 0)


def test_feast_without_its_extra_is_one_line() -> None:
    pytest.importorskip("pandas", minversion="3")  # Feast needs pandas < 3: never installed beside this lock
    entry = {"name": "profile", "entity": "user", "event_time": "at", "features": ["score"], "source": {"uri": "p.csv"}}
    cfg = parse(DataConfig, data(feature_views=[entry], feature_store="feast"))
    with pytest.raises(MMPError, match=r"^data\.feature_store: feast is not installed \(allowed: install the extra"):
        join_views(rows(), cfg, 0)
