"""Lightning's ``Trainer`` in place of the hand-written loop of mmp's torch estimators.

:class:`LightningTraining` overrides only ``_train``: inputs, targets, scaling, prediction,
fine-tuning and pickling stay those of :class:`~mmp.modeling.models.torch_base.TorchEstimator`,
so a Lightning estimator is as sklearn-compatible (and joblib-picklable) as the plain ones.
Lightning adds early stopping and a best-checkpoint callback, seeding
(``seed_everything``, ``deterministic=True``) and ``accelerator="auto"``; ``fit`` also takes
Lightning ``loggers`` (the train stage passes an ``MLFlowLogger`` when MLflow mirroring is on)."""

from __future__ import annotations

import contextlib
import logging
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from mmp.modeling.models.torch_base import EpochCallback, pick_device

# Lightning's own INFO lines ("GPU available: ...", "`Trainer.fit` stopped: ...") would fill the
# stage logs on every fit.
QUIET_LOGGERS = ("pytorch_lightning", "lightning.pytorch", "lightning_fabric", "lightning.fabric")


class LightningTraining:
    """Mix in before a TorchEstimator subclass (``class X(Mixin, LightningTraining, _MLP)``)."""

    _loggers: Sequence[Any] = ()

    def fit(self, X: Any, y: Any, live: Any = None, epoch_callback: EpochCallback | None = None, loggers: Sequence[Any] = ()) -> Any:
        self._loggers = loggers
        try:
            return super().fit(X, y, live, epoch_callback)  # type: ignore[misc]
        finally:
            del self._loggers  # a run's loggers never travel with the pickled model

    def _train(self, module: Any, features: np.ndarray, targets: np.ndarray, epochs: int, live: Any, epoch_callback: Any) -> Any:
        import pytorch_lightning as pl
        import torch

        from mmp.modeling.models.lightning.module import EpochReport, TabularModule

        est: Any = self
        pl.seed_everything(est.random_state or 0, workers=True, verbose=False)
        lit = TabularModule(module, est._loss, {**est.get_params(), "epochs": epochs}, est.class_weights_)
        self.history_: list[dict[str, float]] = []
        with tempfile.TemporaryDirectory() as checkpoints, _quiet(), _deterministic_restored():
            # MLFlowLogger(log_model=True) logs the one kept checkpoint under its stem: `best-epoch=N/`.
            best = pl.callbacks.ModelCheckpoint(dirpath=checkpoints, filename="best-{epoch}", monitor="val_loss", mode="min", save_top_k=1)
            stop = pl.callbacks.EarlyStopping(monitor="val_loss", mode="min", patience=est.patience, min_delta=1e-6)
            trainer = self._trainer(epochs, checkpoints, [best, stop, EpochReport(self.history_, live, epoch_callback)])
            trainer.fit(lit, *self._loaders(features, targets))
            # The best epoch's weights, not the last one's, are the model.
            state = torch.load(best.best_model_path, map_location="cpu", weights_only=True)["state_dict"]
            lit.load_state_dict(state)
            self.best_val_loss_ = float(best.best_model_score) if best.best_model_score is not None else float("inf")
        self.module_ = lit.network.to("cpu").eval()  # fitted models predict on CPU and pickle portably
        return self

    def _trainer(self, epochs: int, root: str, callbacks: list[Any]) -> Any:
        import pytorch_lightning as pl

        est: Any = self
        device = pick_device(est.device)
        return pl.Trainer(
            max_epochs=epochs,
            accelerator="auto" if est.device == "auto" else device,
            devices=1,
            # Bit-exact on CPU; on a GPU an op without a deterministic kernel warns, never fails.
            deterministic=True if device == "cpu" else "warn",
            callbacks=callbacks,
            logger=list(self._loggers) or False,
            default_root_dir=root,
            enable_progress_bar=False,
            enable_model_summary=False,
            num_sanity_val_steps=0,
            log_every_n_steps=1,
        )

    def _loaders(self, features: np.ndarray, targets: np.ndarray) -> tuple[Any, Any]:
        """Seeded shuffled mini-batches of the train rows; the validation rows in one batch."""
        import torch
        from torch.utils.data import DataLoader, TensorDataset

        est: Any = self
        train_idx, val_idx = est._split(len(features))
        X, y = torch.as_tensor(features), torch.as_tensor(targets)
        generator = torch.Generator().manual_seed(est.random_state or 0)
        train = DataLoader(TensorDataset(X[train_idx], y[train_idx]), batch_size=est.batch_size, shuffle=True, generator=generator)
        val = DataLoader(TensorDataset(X[val_idx], y[val_idx]), batch_size=max(len(val_idx), 1))
        return train, val


@contextlib.contextmanager
def _deterministic_restored() -> Iterator[None]:
    """``Trainer(deterministic=...)`` switches torch's deterministic algorithms on for the whole
    process; they are switched back after the fit, so later code runs as it would have."""
    import torch

    enabled, warn_only = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(enabled, warn_only=warn_only)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Lightning's INFO lines and its advice for big datasets (more DataLoader workers, a
    logging interval) are noise for a small tabular network trained inside a stage."""
    loggers = [logging.getLogger(name) for name in QUIET_LOGGERS]
    levels = [log.level for log in loggers]
    for log in loggers:
        log.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*(does not have many workers|log_every_n_steps|LeafSpec).*")
            yield
    finally:
        for log, level in zip(loggers, levels, strict=True):
            log.setLevel(level)
