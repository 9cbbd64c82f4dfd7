from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mmp.core.config import Contract, DataConfig
from mmp.core.errors import MMPError, MMPErrors
from mmp.data.contract import check_contract, coerce_dates, require_columns
from mmp.data.quality import data_profile, quality_report
from mmp.data.schema import infer_schema
from mmp.data.split import data_stats, split
from mmp.data.synthetic import credit_default


def contract(**columns: dict) -> Contract:
    return Contract.model_validate({"allow_extra_columns": True, "columns": columns})


def frame() -> pd.DataFrame:
    return pd.DataFrame({"age": [20.0, 35.0, None, 50.0], "region": ["north", "south", "north", "east"], "y": [0, 1, 0, 1]})


def test_synthetic_data_is_seeded_realistic_and_fast_to_vary() -> None:
    a, b = credit_default(3000, seed=1), credit_default(3000, seed=1)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(credit_default(3000, seed=2))
    assert 0.06 < a["default"].mean() < 0.14
    assert a["income"].isna().any() and a["employment_type"].isna().any()
    assert {"int64", "float64", "datetime64[ns]"} <= {str(t) for t in a.dtypes}


def test_contract_accepts_valid_data() -> None:
    check_contract(
        frame(), contract(age={"dtype": "float", "min": 18}, region={"dtype": "category", "allowed": ["north", "south", "east"]}), ["y"]
    )


def test_a_frame_that_keeps_the_contract_is_not_handed_to_pandera(monkeypatch: pytest.MonkeyPatch) -> None:
    """The direct checks pass it; pandera (slow on a batch chunk) only words a broken rule."""
    import pandera.pandas as pa

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("pandera validated a frame that keeps the contract")

    monkeypatch.setattr(pa.DataFrameSchema, "validate", refuse)
    rules = contract(age={"dtype": "float", "min": 18, "max": 60}, region={"dtype": "category", "allowed": ["north", "south", "east"]})
    check_contract(frame(), rules, ["y"])
    strict = rules.model_copy(update={"allow_extra_columns": False, "columns": {**rules.columns, "y": rules.columns["age"]}})
    with pytest.raises(AssertionError, match="pandera validated"):  # y < 18 breaks a rule: pandera words it
        check_contract(frame(), strict, ["y"])


@pytest.mark.parametrize(
    ("data", "rules", "allow_extra", "error"),
    [
        (frame(), {"age": {"dtype": "float", "min": 21}}, True, "column 'age': must be >= 21"),
        (frame(), {"age": {"dtype": "float", "max": 49}}, True, "column 'age': must be <= 49"),
        (frame(), {"age": {"dtype": "float", "nullable": False}}, True, "column 'age': must not be null"),
        (frame(), {"region": {"dtype": "category", "allowed": ["north", "south"]}}, True, "must be one of the allowed values"),
        (frame(), {"age": {"dtype": "float"}}, False, "column 'region': is not in the data contract"),
        (frame(), {"income": {"dtype": "float"}}, True, "column 'income': required by the data contract"),
        (frame().assign(y=[0, None, 1, 1]), {}, True, "column 'y': must not be null"),
    ],
)
def test_each_broken_rule_is_reported(data: pd.DataFrame, rules: dict, allow_extra: bool, error: str) -> None:
    """Every rule the direct checks look at, broken once: the error is pandera's wording."""
    given = Contract.model_validate({"allow_extra_columns": allow_extra, "columns": rules})
    with pytest.raises((MMPError, MMPErrors), match=error):
        check_contract(data, given, ["y"])


def test_contract_reports_every_violation_with_column_rule_and_rows() -> None:
    rules = contract(age={"dtype": "float", "min": 30, "nullable": False}, region={"dtype": "category", "allowed": ["north", "south"]})
    with pytest.raises(MMPErrors) as err:
        check_contract(frame(), rules, ["y"])
    messages = [str(e) for e in err.value.errors]
    assert any("column 'age': must be >= 30" in m and "rows [0]" in m for m in messages)
    assert any("column 'age': must not be null" in m for m in messages)
    assert any(
        "column 'region': must be one of the allowed values" in m and "'east'" in m and "allowed: north, south" in m for m in messages
    )


def test_missing_contract_column_and_null_target() -> None:
    data = frame().assign(y=[0, None, 1, 1])
    with pytest.raises(MMPErrors) as err:
        check_contract(data, contract(income={"dtype": "float"}), ["y"])
    text = str(err.value)
    assert "column 'income': required by the data contract but missing" in text
    assert "column 'y': must not be null" in text


def test_wrong_dtype_is_a_violation() -> None:
    with pytest.raises(MMPError, match=r"column 'region': 4 value\(s\) cannot be parsed as float, e.g. row 0: 'north'"):
        check_contract(frame(), contract(region={"dtype": "float"}), ["y"])


def test_missing_target_names_the_key_and_available_columns() -> None:
    cfg = DataConfig(source_uri="x.csv", target_col="label", task_type="binary")
    with pytest.raises(MMPError) as err:
        require_columns(frame(), cfg)
    assert err.value.where == "data.target_col"
    assert "age, region, y" == err.value.allowed


def test_dates_from_text_are_parsed_or_rejected() -> None:
    rules = contract(when={"dtype": "datetime"})
    parsed = coerce_dates(pd.DataFrame({"when": ["2024-01-02", None]}), rules)
    assert str(parsed["when"].dtype).startswith("datetime64")
    with pytest.raises(MMPError, match="cannot be parsed as datetime"):
        coerce_dates(pd.DataFrame({"when": ["not a date"]}), rules)


def test_split_is_stratified_and_seeded() -> None:
    data = credit_default(2000, seed=3)
    train, test = split(data, ["default"], "binary", 0.25, seed=3)
    assert (len(train), len(test)) == (1500, 500)
    assert abs(train["default"].mean() - test["default"].mean()) < 0.01
    again, _ = split(data, ["default"], "binary", 0.25, seed=3)
    pd.testing.assert_frame_equal(train, again)
    stats = data_stats(train, test, ["default"], "binary")
    assert stats["rows"]["total"] == 2000 and set(stats["class_balance"]) == {"0", "1"}
    # The per-column profile is a file apart: one metric per source column floods `dvc exp show`.
    assert set(stats) == {"rows", "class_balance"}
    cfg = DataConfig(source_uri="x", target_col="default", task_type="binary", id_cols=["customer_id"])
    assert 0 < data_profile(quality_report(train, test, cfg))["missing_rate"]["income"] < 0.2


@pytest.mark.parametrize(
    ("labels", "task", "test_size", "seed"),
    [
        (np.array([0, 1]), "binary", 0.25, 42),
        (np.array([True, False]), "binary", 0.2, 7),
        (np.array(["a", "b", "c"]), "multiclass", 0.3, 0),
        (np.array([3, 1, 2, 4]), "multiclass", 0.15, 11),  # 25 rows a class: the remainders tie, the seed breaks them
        (np.array([0.0]), "regression", 0.2, 5),
    ],
    ids=["binary-int", "binary-bool", "multiclass-str", "multiclass-ties", "regression"],
)
def test_split_takes_the_rows_scikit_learn_takes(labels: np.ndarray, task: str, test_size: float, seed: int) -> None:
    """The split is scikit-learn's train_test_split written out (its import was 1.2 s of every
    prepare run): the same rows, in the same order, for the same seed."""
    from sklearn.model_selection import train_test_split

    rng = np.random.default_rng(seed)
    weights = np.linspace(1, 2, len(labels)) / np.linspace(1, 2, len(labels)).sum()
    for y in (rng.choice(labels, size=97, p=weights), rng.choice(labels, size=1000, p=weights), np.resize(labels, 100)):
        rows = len(y)
        y = rng.normal(size=rows) if task == "regression" else y
        frame = pd.DataFrame({"x": np.arange(rows), "y": y})
        train, test = split(frame, ["y"], task, test_size, seed)
        stratify = frame["y"] if task != "regression" else None
        want_train, want_test = train_test_split(frame, test_size=test_size, random_state=seed, stratify=stratify)
        assert train["x"].tolist() == want_train["x"].tolist() and test["x"].tolist() == want_test["x"].tolist()


def test_schema_marks_roles_and_observed_categories() -> None:
    cfg = DataConfig(source_uri="x.csv", target_col="y", task_type="binary", id_cols=["id"])
    schema = infer_schema(frame().assign(id=[1, 2, 3, 4]), cfg)
    roles = {c.name: (c.role, c.dtype) for c in schema.columns}
    assert roles == {"age": ("feature", "float"), "region": ("feature", "category"), "id": ("id", "int")}
    assert next(c for c in schema.columns if c.name == "region").allowed == ["east", "north", "south"]


def test_split_and_quality_report_import_no_scikit_learn() -> None:
    """prepare's split and leakage check import no scikit-learn (1.2 s of every prepare run)."""
    import subprocess
    import sys

    from tests.conftest import ROOT, pipeline_env

    probe = (
        "import sys; from mmp.core.config import DataConfig; from mmp.data.quality import quality_report; "
        "from mmp.data.split import split; from mmp.data.synthetic import credit_default; "
        "train, test = split(credit_default(500, seed=1), ['default'], 'binary', 0.2, 1); "
        "quality_report(train, test, DataConfig(source_uri='x', target_col='default', task_type='binary')); "
        "print(sorted({'sklearn', 'scipy'} & set(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", probe], env=pipeline_env(ROOT), capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
