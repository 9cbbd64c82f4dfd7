"""Every choice of every config group composes with Hydra and validates as typed params, and the
committed params.yaml is exactly what conf/ composes to."""

from __future__ import annotations

import pytest

from mmp.core.config import Params, parse
from mmp.modeling.recipe import build_estimator, find_ranges
from mmp.ops.params import compose
from tests.conftest import ROOT

GROUPS = ("data", "features", "model", "tune", "evaluate")


def choices() -> list[tuple[str, str]]:
    return [(g, p.stem) for g in GROUPS for p in sorted((ROOT / "conf" / g).glob("*.yaml"))]


@pytest.mark.parametrize(("group", "choice"), choices(), ids=lambda v: str(v))
def test_every_group_choice_composes_and_validates(group: str, choice: str) -> None:
    import yaml

    params = parse(Params, yaml.safe_load(compose(ROOT, [f"{group}={choice}"])))
    if group == "model":
        find_ranges(params.model.hyperparameters)
        try:
            build_estimator(params.model, params.seed)
        except Exception as err:  # an optional extra may be missing; anything else is a bug
            assert "pip install -e" in str(err), err


def test_every_group_has_at_least_one_choice() -> None:
    present = {g for g, _ in choices()}
    assert present == set(GROUPS)


def test_params_yaml_is_in_sync_with_conf() -> None:
    committed = (ROOT / "params.yaml").read_text()
    assert committed == compose(ROOT, []), "params.yaml is stale: run `make params` and commit it"


def test_env_settings_never_reach_params() -> None:
    assert "mlflow" not in (ROOT / "params.yaml").read_text()
