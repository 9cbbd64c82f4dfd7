"""Time features use only rows strictly earlier than each row: changing or shuffling the future
changes no value, rows at the same time never see each other; a time split; config rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from mmp.core.config import Params, TimeFeatures, parse
from mmp.core.errors import MMPError
from mmp.data.split import time_split
from mmp.data.time_features import add_time_features, feature_names
from mmp.ops.params import compose
from tests.conftest import ROOT

CFG = TimeFeatures(enabled=True, columns=["amount"], lags=[1, 2], windows=["2d", "10d"], since_previous=True)


def events(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "user": rng.integers(0, 12, n),
            # stamped to the day over two months: many rows share a time with another of their user
            "at": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 60, n), unit="D"),
            "amount": rng.gamma(2.0, 10.0, n).round(2),
        }
    )


def test_changing_and_shuffling_future_rows_changes_no_feature_value() -> None:
    frame = events()
    cutoff = pd.Timestamp("2024-01-30")
    before = add_time_features(frame, "user", "at", CFG)
    future = frame["at"] > cutoff
    rng = np.random.default_rng(1)
    changed = frame.copy()
    changed.loc[future, "amount"] = rng.gamma(5.0, 100.0, int(future.sum()))  # other values later
    changed.loc[future, "at"] = changed.loc[future, "at"].sample(frac=1, random_state=2).to_numpy()  # other times later
    changed = pd.concat([changed, changed[future].assign(user=3)]).sample(frac=1, random_state=3)  # more rows later, any order
    after = add_time_features(changed, "user", "at", CFG).loc[frame.index[~future]]
    names = feature_names(CFG)
    pd.testing.assert_frame_equal(after[names].sort_index(), before.loc[~future, names].sort_index(), check_exact=True)
    assert before["amount_lag_1"].isna().any() and before["amount_lag_1"].notna().any()  # first events: null (the imputer fills it)


def test_rows_at_the_same_time_never_see_each_other() -> None:
    frame = pd.DataFrame(
        {
            "user": [1, 1, 1, 1, 2],
            "at": pd.to_datetime(["2024-01-01", "2024-01-05", "2024-01-05", "2024-01-06", "2024-01-05"]),
            "amount": [10.0, 20.0, 30.0, 40.0, 99.0],
        }
    )
    out = add_time_features(frame, "user", "at", CFG)
    # both rows of 2024-01-05 see only the 10.0 of 2024-01-01 (and not each other)
    assert out["amount_lag_1"].tolist() == pytest.approx([np.nan, 10.0, 10.0, 30.0, np.nan], nan_ok=True)
    assert out["amount_lag_2"].tolist() == pytest.approx([np.nan, np.nan, np.nan, 20.0, np.nan], nan_ok=True)
    assert out["amount_sum_10d"].tolist() == [0.0, 10.0, 10.0, 60.0, 0.0]
    assert out["amount_count_2d"].tolist() == [0.0, 0.0, 0.0, 2.0, 0.0]  # [t - 2d, t): day 4 and 5, not day 1
    assert out["amount_mean_10d"].tolist() == pytest.approx([np.nan, 10.0, 10.0, 20.0, np.nan], nan_ok=True)
    assert out["days_since_previous"].tolist() == pytest.approx([np.nan, 4.0, 4.0, 1.0, np.nan], nan_ok=True)


def test_column_problems_are_one_line_each() -> None:
    frame = events(20).assign(note="x")
    with pytest.raises(MMPError, match=r"features\.time\.columns: 'note' is not numeric"):
        add_time_features(frame, "user", "at", CFG.model_copy(update={"columns": ["note"]}))
    with pytest.raises(MMPError, match=r"^features\.time\.entity: 'shop' is not a column"):
        add_time_features(frame, "shop", "at", CFG)


def test_the_time_split_tests_on_the_latest_rows() -> None:
    frame = events(50).assign(label=np.arange(50) % 2)
    train, test = time_split(frame, ["label"], "binary", 0.2, "at")
    assert (len(train), len(test)) == (40, 10) and train["at"].max() <= test["at"].min()


def test_the_transactions_recipe_composes_with_time_features_a_time_split_and_time_series_cv() -> None:
    from mmp.data.split import by_time
    from mmp.tuning.cv import resolve_strategy

    raw = yaml.safe_load(compose(ROOT, ["+experiment=transactions"]))
    params = parse(Params, raw)
    assert params.features.time.enabled and params.features.time.entity_in(params.data) == "customer_id"
    assert params.data.feature_store == "builtin" and params.data.feature_views[0].ttl == "45d"
    assert by_time(params.data, params.features.time)
    assert resolve_strategy(params.tune.cv.strategy, params.data.task_type, params.data.time_col, 1) == "timeseries"
    refused = [
        ("data", {"split": "random"}, "data.split random would train on rows later than test rows"),
        ("tune", {"cv": {"strategy": "kfold"}}, "tune.cv.strategy kfold would validate on earlier rows"),
        ("features", {"time": {**raw["features"]["time"], "columns": [], "since_previous": False}}, "compute nothing"),
    ]
    for section, change, message in refused:
        with pytest.raises(MMPError, match=message):
            parse(Params, {**raw, section: {**raw[section], **change}})
