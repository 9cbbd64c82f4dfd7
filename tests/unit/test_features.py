"""Feature recipes: every strategy is one Pipeline fitted on train only; id, time and target
columns never leak into the features."""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mmp.core.config import FeaturesConfig
from mmp.core.errors import MMPError
from mmp.modeling.features import build_featurizer, category_codes, fit_transform, select_columns, transform

EXCLUDED = ["customer_id", "signup", "y"]


def frame(n: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    income = rng.normal(50, 10, n)
    income[0] = 10_000.0  # one wild outlier
    return pd.DataFrame(
        {
            "customer_id": np.arange(n),
            "signup": pd.date_range("2024-01-01", periods=n, freq="D"),
            "income": np.where(rng.random(n) < 0.1, np.nan, income),
            "age": rng.integers(18, 80, n).astype(float),
            "city": rng.choice(["a", "b", "c"], n, p=[0.6, 0.395, 0.005]),
            "joined": pd.date_range("2020-01-01", periods=n, freq="7D"),
            "y": (rng.random(n) < 0.4).astype(int),
        }
    )


def featurize(cfg: dict[str, Any], train: pd.DataFrame, task: str = "binary") -> tuple[Any, pd.DataFrame]:
    features = FeaturesConfig(**cfg)
    columns = select_columns(train, features, EXCLUDED)
    featurizer = build_featurizer(features, columns, task, seed=0)
    return featurizer, fit_transform(featurizer, train, train["y"])


def test_columns_by_dtype_exclude_id_time_and_target() -> None:
    chosen = select_columns(frame(), FeaturesConfig(), EXCLUDED)
    assert chosen == {"numeric": ["income", "age"], "categorical": ["city"], "date": ["joined"]}


@pytest.mark.parametrize("encode", ["onehot", "ordinal", "target"])
def test_id_time_and_target_never_leak(encode: str) -> None:
    _, out = featurize({"categorical": {"encode": encode}, "interactions": {"enabled": True}}, frame())
    leaked = [c for c in out.columns for part in c.split(" ") if any(part == x or part.startswith(f"{x}_") for x in EXCLUDED)]
    assert leaked == [] and len(out.columns) > 3


def test_explicit_columns_win_and_leaks_are_rejected() -> None:
    chosen = select_columns(frame(), FeaturesConfig(numeric={"columns": ["age"]}, categorical={"columns": ["income"]}), EXCLUDED)
    assert chosen["numeric"] == ["age"] and chosen["categorical"] == ["income"]
    with pytest.raises(MMPError, match="id, time or target"):
        select_columns(frame(), FeaturesConfig(numeric={"columns": ["age", "customer_id"]}), EXCLUDED)


@pytest.mark.parametrize("clip", ["iqr", "zscore"])
def test_outliers_are_clipped_to_train_bounds(clip: str) -> None:
    train = frame()
    _, out = featurize({"numeric": {"clip": clip, "scale": "none"}}, train)
    income = train["income"].dropna()
    q1, q3 = income.quantile([0.25, 0.75])
    upper = q3 + 1.5 * (q3 - q1) if clip == "iqr" else income.mean() + 3 * income.std(ddof=0)
    assert out["income"].max() == pytest.approx(upper, rel=1e-5), "the 10,000 outlier is clipped to the train bound"
    observed = train["income"].notna()
    unchanged = np.isclose(out.loc[observed, "income"], train.loc[observed, "income"], atol=1e-3)
    assert unchanged.mean() > 0.8, "ordinary values pass through"


def test_imputation_constant_fills_the_value() -> None:
    train = frame()
    _, out = featurize({"numeric": {"impute": "constant", "fill_value": -1.0, "scale": "none"}}, train)
    assert (out.loc[train["income"].isna(), "income"] == -1.0).all()


@pytest.mark.parametrize("strategy", ["mean", "median", "most_frequent"])
def test_imputation_strategies_leave_no_missing_values(strategy: str) -> None:
    _, out = featurize({"numeric": {"impute": strategy}}, frame())
    assert not out.isna().any().any()


@pytest.mark.parametrize(
    ("scale", "check"),
    [
        ("standard", lambda s: abs(s.mean()) < 1e-5),
        ("minmax", lambda s: s.min() == 0 and s.max() == 1),
        ("robust", lambda s: abs(s.median()) < 1e-6),
    ],
)
def test_scaling(scale: str, check: Any) -> None:
    _, out = featurize({"numeric": {"scale": scale}}, frame())
    assert check(out["age"])


def test_fitted_on_train_only() -> None:
    train, test = frame(seed=0), frame(seed=1).assign(age=lambda d: d.age + 100)
    featurizer, _ = featurize({"numeric": {"scale": "minmax"}}, train)
    assert transform(featurizer, test)["age"].min() > 1, "test rows are scaled with train's min/max"


def test_onehot_merges_rare_and_unseen_categories() -> None:
    featurizer, out = featurize({"categorical": {"encode": "onehot", "min_frequency": 0.05}}, frame())
    assert "city_infrequent_sklearn" in out.columns and "city_c" not in out.columns
    unseen = transform(featurizer, frame(5).assign(city="zzz"))
    assert (unseen["city_infrequent_sklearn"] == 1).all()


def test_ordinal_and_target_encoding_give_one_column() -> None:
    _, ordinal = featurize({"categorical": {"encode": "ordinal"}}, frame())
    assert set(ordinal["city"].unique()) <= {0.0, 1.0, 2.0}
    _, target = featurize({"categorical": {"encode": "target"}}, frame())
    assert "city" in target.columns and target["city"].between(0, 1).all() and target["city"].nunique() > 3, "cross-fitted means"


def test_native_encoding_gives_integer_codes_and_auto_picks_it_for_lightgbm() -> None:
    featurizer, native = featurize({"categorical": {"encode": "native"}}, frame())
    assert native["city"].dtype == np.int32 and native["income"].dtype == np.float32
    assert category_codes(native) == ["city"]
    assert (transform(featurizer, frame(5).assign(city="zzz"))["city"] == -1).all(), "unseen: -1, missing to LightGBM"
    auto = FeaturesConfig(categorical={"encode": "auto"}).categorical
    assert auto.encoding("lightgbm.LGBMClassifier") == "native"
    assert auto.encoding("sklearn.ensemble.RandomForestClassifier") == auto.encoding(None) == "onehot"
    assert category_codes(featurize({"categorical": {"encode": "ordinal"}}, frame())[1]) == [], "ordinal stays float"


def test_date_parts() -> None:
    _, out = featurize({"date": {"parts": ["year", "quarter"]}}, frame())
    assert {"joined_year", "joined_quarter"} <= set(out.columns) and out["joined_year"].min() == 2020


def test_interactions_add_products_of_numeric_columns() -> None:
    _, out = featurize({"interactions": {"enabled": True, "degree": 2}}, frame())
    assert "income age" in out.columns


@pytest.mark.parametrize("selection", [{"method": "kbest", "k": 3}, {"method": "model", "k": 3}])
def test_feature_selection_keeps_k(selection: dict[str, Any]) -> None:
    featurizer, out = featurize({"selection": selection}, frame())
    assert out.shape[1] == 3
    assert list(transform(featurizer, frame(seed=2)).columns) == list(out.columns)


def test_featurizer_pickles() -> None:
    featurizer, out = featurize(
        {"numeric": {"clip": "iqr"}, "categorical": {"encode": "target"}, "selection": {"method": "kbest", "k": 4}}, frame()
    )
    again = pickle.loads(pickle.dumps(featurizer))
    test = frame(seed=3)
    pd.testing.assert_frame_equal(transform(again, test), transform(featurizer, test))


def categorical_frame(n: int = 3000, seed: int = 1) -> pd.DataFrame:
    """Categories with ties, rare values, missing values, int codes and mixed int/str values."""
    rng = np.random.default_rng(seed)
    city = rng.choice(["b", "a", "c", "rare", "z"], n, p=[0.4, 0.4, 0.15, 0.004, 0.046]).astype(object)
    city[rng.random(n) < 0.1] = None
    code = rng.choice([3.0, 1.0, 7.0, np.nan], n, p=[0.5, 0.3, 0.005, 0.195])
    mixed = rng.choice(np.asarray([1, "1", "x", "y"], dtype=object), n)
    plan = pd.Series(rng.choice(["basic", "pro", None], n, p=[0.5, 0.3, 0.2]), dtype="str")
    return pd.DataFrame({"city": city, "code": code, "mixed": mixed, "plan": plan, "y": (rng.random(n) < 0.4).astype(int)})


@pytest.mark.parametrize(
    "categorical",
    [
        {"encode": "onehot", "min_frequency": 0.01},
        {"encode": "native", "min_frequency": 0.01},
        {"encode": "ordinal"},
        {"encode": "ordinal", "impute": "constant", "min_frequency": 0.05},
        {"encode": "onehot", "max_categories": 3, "min_frequency": None},
    ],
)
def test_categorical_fit_from_counts_equals_a_fit_on_every_row(categorical: dict[str, Any]) -> None:
    """The featurizer fits its categorical block from value counts (fast at millions of rows);
    the fitted imputer and encoder and the features equal scikit-learn's fit on every row."""
    train, test = categorical_frame(), categorical_frame(500, seed=2)
    features = FeaturesConfig(categorical=categorical)
    columns = select_columns(train, features, ["y"])
    counted = build_featurizer(features, columns, seed=0)
    out = fit_transform(counted, train, train["y"])
    plain = build_featurizer(features, columns, seed=0).fit(train, train["y"])
    fast, slow = counted["columns"].named_transformers_["categorical"], plain["columns"].named_transformers_["categorical"]
    assert type(fast["impute"]) is type(slow["impute"]) and type(fast["encode"]) is type(slow["encode"])
    assert list(fast["impute"].statistics_) == list(slow["impute"].statistics_)
    for mine, theirs in zip(fast["encode"].categories_, slow["encode"].categories_, strict=True):
        assert mine.dtype == theirs.dtype and list(mine) == list(theirs)
    assert fast["encode"]._infrequent_enabled == slow["encode"]._infrequent_enabled
    if slow["encode"]._infrequent_enabled:
        rare = [[None if c is None else list(c) for c in enc.infrequent_categories_] for enc in (fast["encode"], slow["encode"])]
        assert rare[0] == rare[1] and any(c for c in rare[1])
    pd.testing.assert_frame_equal(out, transform(plain, train))
    pd.testing.assert_frame_equal(transform(counted, test), transform(plain, test))


def numeric_frame(n: int, seed: int = 4) -> pd.DataFrame:
    """Numbers of every dtype a source gives (float32, int, nullable), ties, missing values, a
    column with one value and one with none, and dates with missing ones."""
    rng = np.random.default_rng(seed)
    wide = rng.normal(0, 1e6, n)
    wide[rng.random(n) < 0.2] = np.nan
    dates = pd.Series(pd.to_datetime("2024-01-01") + pd.to_timedelta(rng.integers(0, 900, n), unit="D"))
    dates[rng.random(n) < 0.1] = pd.NaT
    return pd.DataFrame(
        {
            "wide": wide,
            "f32": np.where(rng.random(n) < 0.1, np.nan, rng.normal(3, 2, n)).astype("float32"),
            "ties": rng.integers(0, 3, n).astype(float),
            "count": rng.integers(0, 50, n),
            "nullable": pd.array(np.where(rng.random(n) < 0.3, None, rng.integers(0, 9, n)), dtype="Int64"),
            "single": [np.nan] * (n - 1) + [7.5],
            "empty": [np.nan] * n,
            "when": dates,
            "y": (rng.random(n) < 0.4).astype(int),
        }
    )


@pytest.mark.parametrize("n", [1001, 1000])  # odd and even counts of present values
@pytest.mark.parametrize(
    "numeric",
    [
        {},
        {"clip": "iqr", "scale": "robust"},
        {"clip": "zscore", "scale": "minmax", "interactions": None},
        {"scale": "none"},
    ],
)
def test_median_imputers_fitted_from_middle_values_equal_a_fit_on_every_row(n: int, numeric: dict[str, Any]) -> None:
    """The numeric and date blocks' median imputers are fitted from each column's two middle
    values (fast at millions of rows): the same statistics and features as scikit-learn's fit."""
    from mmp.modeling.features import fit_with_exact_medians

    interactions = numeric.pop("interactions", "absent")
    config: dict[str, Any] = {"numeric": numeric, **({} if interactions == "absent" else {"interactions": {"enabled": True}})}
    train, test = numeric_frame(n), numeric_frame(300, seed=5)
    features = FeaturesConfig(**config)
    columns = select_columns(train, features, ["y"])
    fast = build_featurizer(features, columns, seed=0)
    out = fit_transform(fast, train, train["y"])
    plain = build_featurizer(features, columns, seed=0).fit(train, train["y"])
    for block in ("numeric", "date"):
        mine, theirs = fast["columns"].named_transformers_[block]["impute"], plain["columns"].named_transformers_[block]["impute"]
        assert mine.statistics_.dtype == theirs.statistics_.dtype
        np.testing.assert_array_equal(mine.statistics_, theirs.statistics_)
    pd.testing.assert_frame_equal(out, transform(plain, train))
    pd.testing.assert_frame_equal(transform(fast, test), transform(plain, test))
    assert not fit_with_exact_medians(
        build_featurizer(FeaturesConfig(numeric={"impute": "mean"}), columns)["columns"].transformers[0][1], train
    )
