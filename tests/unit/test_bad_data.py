"""Bad source data gets one clear line per problem: the column, the rows and values that broke
the rule, and how many; never a pandas traceback or a garbled check result (issue 11, item 8)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mmp.core.config import DataConfig
from mmp.core.errors import MMPError
from mmp.data.checks import data_problems
from mmp.data.sources import load_source
from mmp.pipeline.steps import prepare


def config(source: str = "data.csv", **data: object) -> DataConfig:
    return DataConfig.model_validate({"source_uri": source, "target_col": "y", "task_type": "binary"} | data)


def messages(frame: pd.DataFrame, cfg: DataConfig) -> list[str]:
    return [str(e) for e in data_problems(frame, cfg)]


def test_unparseable_numbers_name_their_rows_values_and_count() -> None:
    amounts = ["1.5", "12,000", "n/a", "3", "x1", "x2", "x3", "x4"]
    frame = pd.DataFrame({"amount": pd.array(amounts, dtype="str"), "y": [0, 1] * 4})
    cfg = config(contract={"columns": {"amount": {"dtype": "float", "min": 0}}})
    found = messages(frame, cfg)
    assert found == [
        "column 'amount': 6 value(s) cannot be parsed as float, e.g. row 1: '12,000', row 2: 'n/a', row 4: 'x1', row 5: 'x2', "
        "row 6: 'x3' (allowed: numbers such as 1234.5, without thousands separators; leave a missing value empty)"
    ]


def test_fractions_in_an_int_column_and_text_in_a_bool_column_are_named() -> None:
    frame = pd.DataFrame({"n": [1.0, 2.5, None, 4.0], "flag": ["yes", 1, 0, None], "y": [0, 1, 0, 1]})
    cfg = config(contract={"columns": {"n": {"dtype": "int"}, "flag": {"dtype": "bool"}}})
    found = messages(frame, cfg)
    assert "column 'n': 1 value(s) cannot be parsed as int, e.g. row 1: 2.5" in found[0]
    assert "column 'flag': 1 value(s) cannot be parsed as bool, e.g. row 0: 'yes'" in found[1]
    assert not any("got False" in m for m in found)


def test_unparseable_dates_name_their_rows() -> None:
    frame = pd.DataFrame({"when": ["2024-01-02", "31/02/2024", None, "soon"], "y": [0, 1, 0, 1]})
    found = messages(frame, config(contract={"columns": {"when": {"dtype": "datetime"}}}))
    assert found[0].startswith("column 'when': 2 value(s) cannot be parsed as datetime, e.g. row 1: '31/02/2024', row 3: 'soon'")


def test_an_empty_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(MMPError, match=r"^data.source_uri: .*empty.csv is empty: no header row and no data"):
        load_source(config(str(tmp_path / "empty.csv")), 0)
    for name in ("empty.parquet", "empty.json"):
        (tmp_path / name).write_text("")
        with pytest.raises(MMPError, match=rf"^data.source_uri: .*{name} cannot be read as {name.split('.')[1]}: "):
            load_source(config(str(tmp_path / name)), 0)


def test_a_header_only_source_says_0_rows(tmp_path: Path) -> None:
    (tmp_path / "header.csv").write_text("amount,y\n")
    cfg = config(str(tmp_path / "header.csv"))
    assert messages(load_source(cfg, 0), cfg) == ["data.source_uri: the source has 0 rows; training needs rows"]


def test_duplicate_column_names_are_refused_by_name(tmp_path: Path) -> None:
    (tmp_path / "dup.csv").write_text("amount,amount,y\n1,2,0\n3,4,1\n")
    with pytest.raises(MMPError, match=r"^data.source_uri: column 'amount' appears 2 times in the source"):
        load_source(config(str(tmp_path / "dup.csv")), 0)


@pytest.mark.parametrize("labels", [[0, 1, 0], [0, 1, 0, 1], [0, 1, 2, 0, 1, 2]], ids=["3 rows", "4 rows", "6 rows, 3 classes"])
def test_too_few_rows_fail_validate_exactly_as_prepare(labels: list[int]) -> None:
    frame = pd.DataFrame({"x": range(len(labels)), "y": labels})
    cfg = config(task_type="binary" if max(labels) == 1 else "multiclass")
    found = messages(frame, cfg)
    assert found, "validate must refuse what prepare refuses"
    with pytest.raises(MMPError) as err:
        prepare(frame, cfg, seed=0)
    assert str(err.value).splitlines() == found


def test_enough_rows_pass_both() -> None:
    frame = pd.DataFrame({"x": range(10), "y": [0, 1] * 5})
    assert messages(frame, config()) == []
    assert len(prepare(frame, config(), seed=0).test) == 2


def test_an_empty_json_list_says_0_rows_first(tmp_path: Path) -> None:
    (tmp_path / "rows.json").write_text("[]")
    cfg = config(str(tmp_path / "rows.json"))
    assert messages(load_source(cfg, 0), cfg)[0] == "data.source_uri: the source has 0 rows; training needs rows"
