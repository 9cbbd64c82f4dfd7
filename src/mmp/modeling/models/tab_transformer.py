"""TabTransformer (Huang et al., 2020): each categorical column is embedded, the embeddings pass
through a transformer encoder, and the numeric features are concatenated before the MLP head.

It must know which featurized columns are categorical codes: ``categorical_features`` names
them (with ``features.categorical.encode: ordinal`` they keep their raw column names), or, when
null, every integer-valued column with at most ``max_auto_cardinality`` distinct values is taken
as categorical (ordinal codes, one-hot flags, small counts).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mmp.core.errors import MMPError
from mmp.modeling.models.mlp import mlp_layers
from mmp.modeling.models.pretrain import EncoderArtifact, load_encoder
from mmp.modeling.models.torch_base import TorchClassifierMixin, TorchEstimator, TorchRegressorMixin, store_params


def _network(cardinalities: list[int], cat_idx: list[int], num_idx: list[int], est: _TabTransformer, n_outputs: int) -> Any:
    import torch
    from torch import nn

    class Network(nn.Module):
        # Buffers (register_buffer): declared so they are typed as tensors, not Tensor | Module.
        cat_idx: torch.Tensor
        num_idx: torch.Tensor
        offsets: torch.Tensor
        limits: torch.Tensor

        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("cat_idx", torch.as_tensor(cat_idx, dtype=torch.long))
            self.register_buffer("num_idx", torch.as_tensor(num_idx, dtype=torch.long))
            self.register_buffer("offsets", torch.as_tensor(np.concatenate([[0], np.cumsum(cardinalities)[:-1]]), dtype=torch.long))
            self.register_buffer("limits", torch.as_tensor(cardinalities, dtype=torch.long) - 1)
            self.embed = nn.Embedding(int(sum(cardinalities)), est.embedding_dim)
            self.column = nn.Parameter(torch.zeros(len(cat_idx), est.embedding_dim))
            layer = nn.TransformerEncoderLayer(est.embedding_dim, est.n_heads, est.embedding_dim * 2, est.dropout, batch_first=True)
            self.encoder = nn.TransformerEncoder(layer, est.n_layers, enable_nested_tensor=False)
            self.norm = nn.LayerNorm(len(num_idx)) if num_idx else None
            width = len(cat_idx) * est.embedding_dim + len(num_idx)
            self.head = mlp_layers(width, list(est.hidden_layers), est.dropout, n_outputs)

        def codes(self, X: Any) -> Any:
            # Codes: ordinal "unknown" (-1) and unseen values map to the reserved code 0.
            return (X[:, self.cat_idx].round().long() + 1).clamp(min=torch.zeros_like(self.limits), max=self.limits)

        def encode(self, embedded: Any) -> Any:
            """The encoder's tokens for embedded codes (pre-training masks some of them first)."""
            return self.encoder(embedded + self.column)

        def forward(self, X: Any) -> Any:
            tokens = self.encode(self.embed(self.codes(X) + self.offsets))
            parts = [tokens.flatten(1)]
            if self.norm is not None:
                parts.append(self.norm(X[:, self.num_idx]))
            return self.head(torch.cat(parts, dim=1))

    return Network()


class _TabTransformer(TorchEstimator):
    def __init__(
        self,
        categorical_features: Sequence[str] | None = None,
        max_auto_cardinality: int = 50,
        embedding_dim: int = 16,
        n_heads: int = 4,
        n_layers: int = 2,
        hidden_layers: Sequence[int] = (64, 32),
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

    def _inspect(self, X: np.ndarray, columns: list[str]) -> None:
        key = "model.hyperparameters.categorical_features"
        if self.embedding_dim % self.n_heads:
            raise MMPError("model.hyperparameters.embedding_dim", f"must be a multiple of n_heads ({self.n_heads})")
        if self.categorical_features is None:
            integral = np.all(np.isclose(X, np.round(X)), axis=0)
            cat = [i for i in range(X.shape[1]) if integral[i] and len(np.unique(X[:, i])) <= self.max_auto_cardinality]
        else:
            missing = [c for c in self.categorical_features if c not in columns]
            if missing:
                raise MMPError(key, f"{missing} are not featurized columns", ", ".join(columns))
            cat = [columns.index(c) for c in self.categorical_features]
        if not cat:
            raise MMPError(key, "no categorical column found", "list them, or use features.categorical.encode: ordinal")
        self.categorical_idx_ = cat
        self.categorical_columns_ = [columns[i] for i in cat]
        self.numeric_idx_ = [i for i in range(X.shape[1]) if i not in set(cat)]
        # Code 0 is reserved for unknown values; ordinal codes start at -1 (unknown).
        self.cardinalities_ = [int(max(X[:, i].max(), -1)) + 2 for i in cat]

    def _check_known_inputs(self, X: np.ndarray) -> None:
        """A code the base model never embedded would share another category's embedding: refused."""
        for name, i, cardinality in zip(self.categorical_columns_, self.categorical_idx_, self.cardinalities_, strict=True):
            if X[:, i].max() + 2 > cardinality:
                raise MMPError(
                    "model.finetune.from",
                    f"column {name} has code {int(X[:, i].max())}, a category the base model never saw (its codes end at {cardinality - 2})",
                    "the base model's categories; a new category needs a fresh training",
                )

    def _raw_columns(self) -> list[int]:
        return self.categorical_idx_

    def _build(self, n_inputs: int, n_outputs: int) -> Any:
        return _network(self.cardinalities_, self.categorical_idx_, self.numeric_idx_, self, n_outputs)

    def use_encoder(self, encoder: EncoderArtifact) -> None:
        """Initialise the next fit's encoder from a pre-trained one (see mmp.modeling.models.pretrain)."""
        self.encoder_ = encoder

    def _init_module(self, module: Any) -> None:
        encoder = getattr(self, "encoder_", None)
        if encoder is not None:
            load_encoder(module, encoder, self.categorical_columns_, self.cardinalities_)


class TabTransformerClassifier(TorchClassifierMixin, _TabTransformer):
    """Binary or multiclass classification."""


class TabTransformerRegressor(TorchRegressorMixin, _TabTransformer):
    """Single or multi-output regression."""
