"""A tabular multi-layer perceptron on the featurized matrix, for ``model=mlp`` (classification)
and ``model=mlp_regressor``. Fully configured by its hyperparameters."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mmp.modeling.models.torch_base import TorchClassifierMixin, TorchEstimator, TorchRegressorMixin, store_params


def mlp_layers(n_inputs: int, hidden: Sequence[int], dropout: float, n_outputs: int) -> Any:
    from torch import nn

    layers: list[Any] = []
    width = n_inputs
    for size in hidden:
        layers += [nn.Linear(width, size), nn.ReLU(), nn.Dropout(dropout)]
        width = size
    layers.append(nn.Linear(width, n_outputs))
    return nn.Sequential(*layers)


class _MLP(TorchEstimator):
    def __init__(
        self,
        hidden_layers: Sequence[int] = (128, 64),
        dropout: float = 0.1,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        batch_size: int = 256,
        epochs: int = 50,
        patience: int = 5,
        validation_fraction: float = 0.1,
        device: str = "auto",
        n_threads: int = 1,
        random_state: int | None = None,
    ):
        store_params(self, locals())

    def _build(self, n_inputs: int, n_outputs: int) -> Any:
        return mlp_layers(n_inputs, list(self.hidden_layers), self.dropout, n_outputs)


class MLPClassifier(TorchClassifierMixin, _MLP):
    """Binary or multiclass classification (softmax over the classes)."""


class MLPRegressor(TorchRegressorMixin, _MLP):
    """Single or multi-output regression (targets standardized internally)."""
