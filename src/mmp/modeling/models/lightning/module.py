"""The LightningModule that trains any of mmp's tabular networks (the MLP's layers, the
TabTransformer's network: built by the estimator, see ``training.py``), and the callback that
reports each epoch to dvclive and to a tuning trial.

Imported only when a Lightning model fits (it imports torch and Lightning)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytorch_lightning as pl
import torch

from mmp.modeling.models.torch_base import EpochCallback

Loss = Callable[[Any, Any, Any], Any]


class TabularModule(pl.LightningModule):
    """One network, its loss (cross-entropy or MSE, with optional class weights) and AdamW.
    Train and validation losses are logged once per epoch, under the names the hand-written
    loop gave them (``train_loss``, ``val_loss``): the same curves in dvclive and MLflow."""

    def __init__(self, network: torch.nn.Module, loss: Loss, hparams: dict[str, Any], class_weights: Any = None):
        super().__init__()
        # The estimator's hyperparameters: Lightning logs them as the run's params.
        self.save_hyperparameters(hparams)
        lr, weight_decay = hparams["lr"], hparams["weight_decay"]
        self.network, self.loss, self.lr, self.weight_decay = network, loss, lr, weight_decay
        weights = None if class_weights is None else torch.as_tensor(class_weights, dtype=torch.float32)
        self.register_buffer("class_weights", weights)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.network(X)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train_loss")

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self._step(batch, "val_loss")

    def predict_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        return self.network(batch[0] if isinstance(batch, list | tuple) else batch)

    def _step(self, batch: tuple[torch.Tensor, torch.Tensor], name: str) -> torch.Tensor:
        X, y = batch
        loss = self.loss(self.network(X), y, self.class_weights)
        self.log(name, loss, on_step=False, on_epoch=True, batch_size=len(X))
        return loss

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(self.parameters(), lr=self.lr, weight_decay=self.weight_decay)


class EpochReport(pl.Callback):
    """After each epoch's validation: its losses to dvclive (``live``) and the estimator's
    history, and the validation loss to ``epoch_callback`` (a tuning trial's pruner: an
    exception it raises, such as ``optuna.TrialPruned``, stops the fit)."""

    def __init__(self, history: list[dict[str, float]], live: Any = None, epoch_callback: EpochCallback | None = None):
        self.history, self.live, self.epoch_callback = history, live, epoch_callback

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        metrics = trainer.callback_metrics
        train_loss, val_loss = float(metrics["train_loss"]), float(metrics["val_loss"])
        epoch = trainer.current_epoch + 1
        self.history.append({"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss})
        if self.live is not None:
            self.live.log_metric("train_loss", round(train_loss, 6))
            self.live.log_metric("val_loss", round(val_loss, 6))
            self.live.next_step()
        if self.epoch_callback is not None:
            self.epoch_callback(epoch, val_loss)
