"""The TabTransformer's self-supervised encoder pre-training: masked-column reconstruction.

Each unlabelled row's categorical codes are embedded; a seeded ``mask_rate`` share of them is
replaced by a learned mask token, and the encoder's token for each masked column must recover
that column's code (one linear head per column, cross-entropy on the masked cells only). The
numeric columns never pass through the encoder, so they are neither masked nor reconstructed.

The result is an :class:`EncoderArtifact`: the encoder's weights (the embeddings, the column
embeddings and the transformer layers) as ``torch.save`` bytes with their SHA-256, and the
columns and cardinalities it was trained for, so a model of other columns refuses it in one line.
torch is imported inside functions only.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from typing import Any

import numpy as np

from mmp.core.errors import MMPError

ENCODER_PARTS = ("embed.", "column", "encoder.")  # the network's keys that make the encoder
KEY = "model.pretrain"


@dataclass(frozen=True)
class EncoderArtifact:
    state: bytes  # torch.save of the encoder's state dict
    sha256: str
    columns: tuple[str, ...]  # the categorical featurized columns it embeds, in order
    cardinalities: tuple[int, ...]
    losses: tuple[float, ...]  # the masked reconstruction loss of each epoch


def encoder_state(module: Any) -> dict[str, Any]:
    return {k: v.detach().cpu().clone() for k, v in module.state_dict().items() if k.startswith(ENCODER_PARTS)}


def to_artifact(module: Any, columns: list[str], cardinalities: list[int], losses: list[float]) -> EncoderArtifact:
    import torch

    buffer = io.BytesIO()
    torch.save(encoder_state(module), buffer)
    state = buffer.getvalue()
    return EncoderArtifact(state, hashlib.sha256(state).hexdigest(), tuple(columns), tuple(cardinalities), tuple(losses))


def load_encoder(module: Any, encoder: EncoderArtifact, columns: list[str], cardinalities: list[int]) -> None:
    """Copy a pre-trained encoder into a freshly built network of the same categorical columns."""
    import torch

    if list(encoder.columns) != columns or list(encoder.cardinalities) != list(cardinalities):
        raise MMPError(
            KEY,
            f"the pre-trained encoder embeds {list(encoder.columns)} with cardinalities {list(encoder.cardinalities)}, "
            f"the model {columns} with {list(cardinalities)}",
            "pre-train on the same featurized data",
        )
    state = torch.load(io.BytesIO(encoder.state), map_location="cpu", weights_only=True)
    module.load_state_dict(state, strict=False)


def pretrain_encoder(estimator: Any, X: Any, epochs: int, mask_rate: float, rows: int | None = None) -> EncoderArtifact:
    """Pre-train ``estimator``'s encoder (an unfitted TabTransformer) on the unlabelled rows ``X``
    (featurized inputs; at most ``rows`` of them, a seeded sample). Seeded by its ``random_state``:
    the same rows and settings give the same bytes on CPU. Also prepares ``estimator`` to start
    its next fit from the result (``use_encoder``)."""
    import torch

    columns = [str(c) for c in getattr(X, "columns", range(np.shape(X)[1]))]
    features = np.asarray(X, dtype="float32")
    estimator._inspect(features, columns)  # the categorical columns and codes of the full data
    seed = estimator.random_state or 0
    if rows is not None and rows < len(features):
        features = features[np.sort(np.random.default_rng(seed).choice(len(features), rows, replace=False))]
    with estimator._threads():
        torch.manual_seed(seed)
        network = estimator._build(features.shape[1], 1)  # the head is not trained here
        losses = _reconstruct(network, torch.tensor(features), estimator, epochs, mask_rate, seed)
    artifact = to_artifact(network, estimator.categorical_columns_, estimator.cardinalities_, losses)
    estimator.use_encoder(artifact)
    return artifact


def _reconstruct(network: Any, X: Any, estimator: Any, epochs: int, mask_rate: float, seed: int) -> list[float]:
    import torch
    from torch import nn

    dim = network.column.shape[1]
    heads = nn.ModuleList(nn.Linear(dim, card) for card in estimator.cardinalities_)
    mask_token = nn.Parameter(torch.zeros(dim))
    parts = [*network.embed.parameters(), network.column, *network.encoder.parameters(), *heads.parameters(), mask_token]
    optimizer = torch.optim.AdamW(parts, lr=estimator.lr, weight_decay=estimator.weight_decay)
    generator = torch.Generator().manual_seed(seed)
    codes = network.codes(X)
    network.train()
    losses = []
    for _ in range(epochs):
        order = torch.randperm(len(codes), generator=generator)
        total, cells = 0.0, 0
        for start in range(0, len(order), estimator.batch_size):
            batch = codes[order[start : start + estimator.batch_size]]
            masked = torch.rand(batch.shape, generator=generator) < mask_rate
            if not masked.any():
                continue
            embedded = torch.where(masked[..., None], mask_token, network.embed(batch + network.offsets))
            tokens = network.encode(embedded)
            loss = (
                sum(
                    nn.functional.cross_entropy(head(tokens[:, j][masked[:, j]]), batch[:, j][masked[:, j]], reduction="sum")
                    for j, head in enumerate(heads)
                )
                / masked.sum()
            )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total, cells = total + float(loss.detach()) * int(masked.sum()), cells + int(masked.sum())
        losses.append(total / max(cells, 1))
    network.eval()
    return losses
