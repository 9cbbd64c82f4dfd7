"""The overrides the daily loop passes to `dvc exp run -S ...` for a fine-tune and for the
TabTransformer's encoder pre-training compose with DVC's own Hydra composition, on every torch
recipe, into typed params; a recipe without them refuses the key in one line."""

from __future__ import annotations

import pytest
import yaml

from mmp.core.config import FinetuneConfig, Params, PretrainConfig, parse
from mmp.core.errors import MMPError
from mmp.ops.params import compose
from tests.conftest import ROOT

FINETUNE = ["model.finetune.from=models:/credit-default@champion", "model.finetune.epochs=2", "model.finetune.lr=0.0005"]


@pytest.mark.parametrize("recipe", ["model=mlp", "model=mlp_regressor", "+experiment=tab_transformer", "model=tab_transformer_regressor"])
def test_finetune_overrides_compose_on_every_torch_recipe(recipe: str) -> None:
    params = parse(Params, yaml.safe_load(compose(ROOT, [recipe, *FINETUNE])))
    assert params.model.finetune == FinetuneConfig.model_validate({"from": "models:/credit-default@champion", "epochs": 2, "lr": 0.0005})
    assert parse(Params, yaml.safe_load(compose(ROOT, [recipe]))).model.finetune.source is None, "off unless given"


def test_pretrain_overrides_compose_on_the_tab_transformer() -> None:
    overrides = ["+experiment=tab_transformer", "model.pretrain.enabled=true", "model.pretrain.epochs=4", "model.pretrain.rows=5000"]
    params = parse(Params, yaml.safe_load(compose(ROOT, overrides)))
    assert params.model.pretrain == PretrainConfig(enabled=True, epochs=4, rows=5000)


def test_the_default_recipe_has_no_finetune_block() -> None:
    with pytest.raises(MMPError, match=r"Could not override 'model.finetune.from'") as err:
        compose(ROOT, ["model.finetune.from=models/package"])
    assert "\n" not in str(err.value)
    raw = yaml.safe_load(compose(ROOT, []))
    assert "finetune" not in raw["model"] and "pretrain" not in raw["model"], "the default LightGBM params are unchanged"
