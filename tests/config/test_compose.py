"""Every choice of every config group composes with Hydra and validates as typed params, and the
committed params.yaml is exactly what conf/ composes to."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from mmp.core.config import DataConfig, EvaluateConfig, Params, parse
from mmp.core.errors import MMPError
from mmp.modeling.model_checks import model_problems
from mmp.modeling.recipe import build_estimator, find_ranges
from mmp.ops.params import compose
from tests.conftest import ROOT

GROUPS = ("data", "features", "model", "tune", "evaluate")


def choices() -> list[tuple[str, str]]:
    return [(g, p.stem) for g in GROUPS for p in sorted((ROOT / "conf" / g).glob("*.yaml"))]


@pytest.mark.parametrize(("group", "choice"), choices(), ids=lambda v: str(v))
def test_every_group_choice_composes_and_validates(group: str, choice: str) -> None:
    params = parse(Params, yaml.safe_load(compose(ROOT, [f"{group}={choice}"])))
    if group == "model" and params.model.kind == "tabular":  # an LLM graph has no estimator
        find_ranges(params.model.hyperparameters)
        try:
            build_estimator(params.model, params.seed)
        except Exception as err:  # an optional extra may be missing; anything else is a bug
            assert "pip install -e" in str(err), err
        # Every shipped value passes the estimator's own rules (an optional extra may be missing).
        assert [str(e) for e in model_problems(params.model, None, params.seed) if "pip install -e" not in str(e)] == []


def test_every_group_has_at_least_one_choice() -> None:
    present = {g for g, _ in choices()}
    assert present == set(GROUPS)


def test_params_yaml_is_in_sync_with_conf() -> None:
    committed = (ROOT / "params.yaml").read_text()
    assert committed == compose(ROOT, []), "params.yaml is stale: run `make params` and commit it"


def test_env_settings_never_reach_params() -> None:
    assert "mlflow" not in (ROOT / "params.yaml").read_text()


MINIMAL = {
    "data": "source_uri: data/raw/mine.csv\ntarget_col: y\ntask_type: binary\n",
    "evaluate": "gate: {}\n",
}


def dvc_params_keys() -> list[str]:
    """Every params key a stage of dvc.yaml declares (``params.yaml:`` means the whole file)."""
    graph = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    keys = []
    for stage in graph["stages"].values():
        for entry in stage.get("params", []):
            keys += [entry] if isinstance(entry, str) else [k for k in entry if k != "params.yaml"]
    return sorted(set(keys))


@pytest.fixture
def minimal_conf(tmp_path: Path) -> Path:
    """conf/ plus a data config and an evaluate config that give only what they must."""
    shutil.copytree(ROOT / "conf", tmp_path / "conf")
    for group, text in MINIMAL.items():
        (tmp_path / "conf" / group / "minimal.yaml").write_text(text)
    return tmp_path


def test_every_dvc_params_key_is_composed_from_minimal_configs(minimal_conf: Path) -> None:
    raw = yaml.safe_load(compose(minimal_conf, ["data=minimal", "evaluate=minimal"]))
    missing = []
    for key in dvc_params_keys():
        node: Any = raw
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                missing.append(key)
                break
            node = node[part]
    assert not missing, f"dvc.yaml declares params a minimal config leaves out: {missing}"
    assert parse(Params, raw).data.time_col is None


def test_a_data_config_without_a_required_key_names_it(minimal_conf: Path) -> None:
    (minimal_conf / "conf/data/minimal.yaml").write_text("source_uri: data/raw/mine.csv\ntask_type: binary\n")
    raw = yaml.safe_load(compose(minimal_conf, ["data=minimal"]))
    with pytest.raises(MMPError, match=r"^data\.target_col: required key is missing$"):
        parse(Params, raw)


@pytest.mark.parametrize(("section", "model"), [("data", DataConfig), ("evaluate", EvaluateConfig)])
def test_schema_defaults_are_the_typed_defaults(section: str, model: type) -> None:
    """conf/schema/<section>.yaml holds the defaults of the typed section, not a second opinion."""
    schema = yaml.safe_load((ROOT / "conf/schema" / f"{section}.yaml").read_text())
    for key, value in schema.items():
        field = model.model_fields[key]
        default = "???" if field.is_required() else field.get_default(call_default_factory=True)
        assert value == (default.model_dump() if isinstance(default, BaseModel) else default), key  # a nested section: its defaults


@pytest.mark.parametrize("model", ["t_learner", "s_learner", "x_learner"])
def test_uplift_experiment_composes_a_learner_on_the_campaign(model: str) -> None:
    """`-S +experiment=uplift` (a T-learner) and the other learners on the same data: an uplift
    task whose treatment and known effect are labels, never features, and a learner that suits it."""
    overrides = ["+experiment=uplift"] + ([] if model == "t_learner" else [f"model={model}"])
    params = parse(Params, yaml.safe_load(compose(ROOT, overrides)))
    assert (params.data.task_type, params.data.treatment_col, params.data.effect_col) == ("uplift", "treatment", "true_effect")
    assert params.data.label_cols == ["spend", "treatment", "true_effect"]
    assert params.model.class_path == f"mmp.modeling.models.uplift.{model[0].upper()}Learner"
    assert model_problems(params.model, "uplift", params.seed) == []
    assert [str(e) for e in model_problems(params.model, "regression", params.seed)] == [
        f"model.class_path: {model[0].upper()}Learner is an uplift learner but data.task_type is regression"
        " (allowed: data.task_type uplift with data.treatment_col)"
    ]
