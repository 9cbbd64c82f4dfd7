"""Typed params: unknown keys and wrong types are reported with the dotted key."""

from __future__ import annotations

import copy

import pytest
import yaml

from mmp.core.config import Params, parse
from mmp.core.errors import MMPError, MMPErrors
from tests.conftest import ROOT

PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())


def with_change(path: str, value: object) -> dict:
    raw = copy.deepcopy(PARAMS)
    *parents, leaf = path.split(".")
    node = raw
    for part in parents:
        node = node[part]
    node[leaf] = value
    return raw


def test_committed_params_parse() -> None:
    params = parse(Params, PARAMS)
    assert params.data.targets == ["default"]
    assert "customer_id" in params.data.non_feature_cols


def test_unknown_key_names_the_key_and_lists_allowed_keys() -> None:
    with pytest.raises(MMPError) as err:
        parse(Params, with_change("model.hyperparamters", {}))
    assert err.value.where == "model.hyperparamters"
    assert err.value.rule == "unknown key"
    assert err.value.allowed == "class_path, hyperparameters, finetune, pretrain, kind, llm"


def test_unknown_key_inside_a_contract_column() -> None:
    with pytest.raises(MMPError) as err:
        parse(Params, with_change("data.contract", {"columns": {"age": {"dtype": "float", "maximum": 3}}}))
    assert err.value.where == "data.contract.columns.age.maximum"
    assert "max" in err.value.allowed.split(", ")


def test_the_contract_is_named_and_read_from_conf_contracts() -> None:
    """params.yaml holds the contract's name only (one `dvc exp show` column, not one per rule);
    its rules come from conf/contracts/<name>.yaml."""
    assert PARAMS["data"]["contract"] == "credit_default"
    rules = parse(Params, PARAMS).data.contract
    assert rules.columns["age"].max == 100 and rules.allow_extra_columns is False


def test_an_unknown_contract_name_lists_the_contracts() -> None:
    with pytest.raises(MMPError) as err:
        parse(Params, with_change("data.contract", "credit_defualt"))
    assert err.value.where == "data.contract"
    assert "no contract file conf/contracts/credit_defualt.yaml" in err.value.rule
    assert "credit_default" in err.value.rule
    with pytest.raises(MMPError) as err:
        parse(Params, with_change("data.contract", "../../etc/passwd"))
    assert "is not a contract name" in err.value.rule
    assert parse(Params, with_change("data.contract", None)).data.contract.columns == {}


def test_wrong_type_names_key_rule_and_value() -> None:
    with pytest.raises(MMPError) as err:
        parse(Params, with_change("data.rows", "many"))
    assert err.value.where == "data.rows"
    assert "valid integer" in err.value.rule and "'many'" in err.value.rule


def test_every_problem_is_reported_at_once() -> None:
    raw = with_change("data.task_type", "clustering")
    raw["tune"]["n_trials"] = 0
    with pytest.raises(MMPErrors) as err:
        parse(Params, raw)
    assert {e.where for e in err.value.errors} == {"data.task_type", "tune.n_trials"}
