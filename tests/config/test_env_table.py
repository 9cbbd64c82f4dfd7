"""README's "Configuration by environment" table: each variable of the specification has a row,
and setting it changes exactly the config key the row names (so the table cannot drift)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable

import pytest
import yaml

from mmp.core.errors import MMPError
from mmp.core.settings import check_recipe_env, load_settings, model_alias
from mmp.ops.params import compose
from mmp.serving.loader import model_spec
from tests.conftest import ROOT

SPECIFIED = {
    "MLFLOW_TRACKING_URI",
    "MLFLOW_EXPERIMENT_NAME",
    "MLFLOW_MODEL_NAME",
    "MLFLOW_MODEL_STAGE",
    "MLFLOW_MODEL_ALIAS",
    "DATA_LOADER_TYPE",
    "DATA_SOURCE_PATH",
    "OPENAI_API_KEY",
}
# Per variable: examples of what the test sets, and the value each config key of its row must then hold.
Example = tuple[dict[str, str], dict[str, str]]
EXAMPLES: dict[str, list[Example]] = {
    "MLFLOW_TRACKING_URI": [
        ({"MLFLOW_TRACKING_URI": "http://tracking.example:5000"}, {"mlflow.tracking_uri": "http://tracking.example:5000"})
    ],
    "MLFLOW_EXPERIMENT_NAME": [({"MLFLOW_EXPERIMENT_NAME": "churn"}, {"mlflow.experiment": "churn"})],
    "MLFLOW_MODEL_NAME": [({"MLFLOW_MODEL_NAME": "churn", "MLFLOW_MODEL_ALIAS": "blue"}, {"--model": "models:/churn@blue"})],
    "MLFLOW_MODEL_ALIAS": [({"MLFLOW_MODEL_ALIAS": "blue", "MLFLOW_MODEL_STAGE": "Staging"}, {"alias": "blue"})],
    "MLFLOW_MODEL_STAGE": [
        ({"MLFLOW_MODEL_STAGE": "Staging"}, {"alias": "challenger"}),
        ({"MLFLOW_MODEL_STAGE": "Canary"}, {"alias": "canary"}),
    ],
    "DATA_SOURCE_PATH": [({"DATA_SOURCE_PATH": "data/raw/my loans.csv"}, {"data.source_uri": "data/raw/my loans.csv"})],
    "DATA_LOADER_TYPE": [
        (
            {"DATA_LOADER_TYPE": "sql", "DATA_SOURCE_PATH": "warehouse/queries/loans.sql.j2"},
            {"data.source_uri": "sql://warehouse/queries/loans.sql.j2"},
        ),
        (
            {"DATA_LOADER_TYPE": "feature_store", "DATA_SOURCE_PATH": "data/raw/entities.parquet"},
            {"data.source_uri": "data/raw/entities.parquet", "data.feature_store": "builtin"},
        ),
        ({"DATA_LOADER_TYPE": "local", "DATA_SOURCE_PATH": "s3://bucket/loans.parquet"}, {"data.source_uri": "s3://bucket/loans.parquet"}),
    ],
    "OPENAI_API_KEY": [({"OPENAI_API_KEY": "sk-test-not-a-real-key"}, {"llm.api_key": "sk-test-not-a-real-key"})],
}


def table_rows() -> dict[str, list[str]]:
    """Variable -> the config keys (backticked) of its row, from between the table's markers."""
    text = (ROOT / "README.md").read_text()
    table = text.split("<!-- env-table -->", 1)[1].split("<!-- /env-table -->", 1)[0]
    rows = {}
    for line in table.strip().splitlines()[2:]:
        variable, key_cell, _accepts = (c.strip() for c in line.strip("|").split("|"))
        keys = [k for k in re.findall(r"`([^`]+)`", key_cell) if k in RESOLVERS]
        rows[variable.strip("`")] = keys
    return rows


def _setting(key: str) -> str:
    value = load_settings(root=ROOT)
    for part in key.split("."):
        value = getattr(value, part)
    return value.get_secret_value() if hasattr(value, "get_secret_value") else str(value)


def _recipe(key: str) -> str:
    params = yaml.safe_load(compose(ROOT, []))
    section, name = key.split(".")
    return str(params[section][name])


RESOLVERS: dict[str, Callable[[str], str]] = {
    "mlflow.tracking_uri": _setting,
    "mlflow.experiment": _setting,
    "llm.api_key": _setting,
    "data.source_uri": _recipe,
    "data.feature_store": _recipe,
    "--model": lambda _key: model_spec(None, os.environ),
    "alias": lambda _key: str(model_alias()),
}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in SPECIFIED | {"APP_ENV", "MMP_MODEL"}:
        monkeypatch.delenv(variable, raising=False)


def test_the_table_names_every_specified_variable_with_a_key() -> None:
    rows = table_rows()
    assert set(rows) == SPECIFIED
    assert all(rows.values()), {v: k for v, k in rows.items() if not k}


@pytest.mark.parametrize("variable", sorted(SPECIFIED))
def test_setting_the_variable_sets_the_key_the_table_names(variable: str, monkeypatch: pytest.MonkeyPatch) -> None:
    keys = table_rows()[variable]
    assert set(keys) == {key for _env, expected in EXAMPLES[variable] for key in expected}, f"README names {keys} for {variable}"
    for env, expected in EXAMPLES[variable]:
        with monkeypatch.context() as patch:
            before = {key: _resolved(key) for key in expected}
            for name, value in env.items():
                patch.setenv(name, value)
            for key, value in expected.items():
                assert _resolved(key) == value, (env, key)
        # unset, the key held something else: the example proves the variable, not a default
        assert all(before[key] != value for key, value in expected.items()), (env, before)


def _resolved(key: str) -> str:
    try:
        return RESOLVERS[key](key)
    except MMPError as err:  # --model with no variable set: no model given
        return str(err)


@pytest.mark.parametrize(
    ("env", "variable", "allowed"),
    [
        ({"DATA_LOADER_TYPE": "foo"}, "DATA_LOADER_TYPE", "local, sql, feature_store"),
        ({"DATA_LOADER_TYPE": "sql"}, "DATA_LOADER_TYPE", "sql://"),
        ({"DATA_LOADER_TYPE": "local", "DATA_SOURCE_PATH": "sql://warehouse/q.sql"}, "DATA_SOURCE_PATH", "a path"),
        ({"MLFLOW_MODEL_STAGE": "latest"}, "MLFLOW_MODEL_STAGE", "not 'latest'"),
    ],
)
def test_bad_values_are_one_line_naming_the_variable(
    env: dict[str, str], variable: str, allowed: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(MMPError) as err:
        compose(ROOT, []) if variable.startswith("DATA_") else model_alias()
    message = str(err.value)
    assert message.startswith(f"{variable}: ") and "\n" not in message and allowed in message


def test_the_api_key_is_never_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    llm = load_settings(root=ROOT).llm
    assert "sk-test" not in repr(llm) and "sk-test" not in str(llm.model_dump())


def test_a_stage_refuses_data_the_variables_did_not_compose(monkeypatch: pytest.MonkeyPatch) -> None:
    """params.yaml composed without DATA_SOURCE_PATH (plain `dvc exp run`): prepare stops, in one line."""
    data = yaml.safe_load(compose(ROOT, []))["data"]
    check_recipe_env(data)  # no variable set: nothing to check
    monkeypatch.setenv("DATA_SOURCE_PATH", "data/raw/other.csv")
    with pytest.raises(
        MMPError, match=r"^DATA_SOURCE_PATH: asks for another data.source_uri than params.yaml holds \(allowed: run `mmp params`"
    ):
        check_recipe_env(data)
    check_recipe_env(yaml.safe_load(compose(ROOT, []))["data"])  # composed with it: runs
