"""The Lightning-trained estimators a recipe names by ``class_path``: the MLP
(:mod:`mmp.modeling.models.mlp`) and the TabTransformer (:mod:`mmp.modeling.models.tab_transformer`),
same networks and hyperparameters, trained by Lightning's ``Trainer``."""

from __future__ import annotations

from mmp.modeling.models.lightning.training import LightningTraining
from mmp.modeling.models.mlp import _MLP
from mmp.modeling.models.tab_transformer import _TabTransformer
from mmp.modeling.models.torch_base import TorchClassifierMixin, TorchRegressorMixin


class LightningMLPClassifier(TorchClassifierMixin, LightningTraining, _MLP):
    """Binary or multiclass classification (softmax over the classes)."""


class LightningMLPRegressor(TorchRegressorMixin, LightningTraining, _MLP):
    """Single or multi-output regression (targets standardized internally)."""


class LightningTabTransformerClassifier(TorchClassifierMixin, LightningTraining, _TabTransformer):
    """Binary or multiclass classification over embedded categorical columns."""
