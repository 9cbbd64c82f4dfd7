"""The training loop shared by mmp's PyTorch estimators: seeded mini-batches, early stopping on a
seeded validation slice of the train split, per-epoch losses to dvclive, and an
``epoch_callback(epoch, val_loss)`` hook for tuning (an exception it raises, such as
``optuna.TrialPruned``, propagates). torch is imported inside methods only: importing this
module stays cheap."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

EpochCallback = Callable[[int, float], None]


def store_params(estimator: BaseEstimator, values: dict[str, Any]) -> None:
    """scikit-learn's convention: ``__init__`` stores each argument unchanged, under its name."""
    for name, value in values.items():
        if name not in ("self", "__class__"):
            setattr(estimator, name, value)


def pick_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


class TorchEstimator(BaseEstimator):
    """Subclasses define ``_build(n_inputs, n_outputs)`` (an ``nn.Module`` taking a float
    matrix) and may override ``_inspect(X)`` to learn input facts before building."""

    is_classification = False

    def _build(self, n_inputs: int, n_outputs: int) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _inspect(self, X: np.ndarray, columns: list[str]) -> None:
        """Learn facts about the inputs before the network is built (e.g. categorical columns)."""

    # ---- fitting

    def fit(self, X: Any, y: Any, live: Any = None, epoch_callback: EpochCallback | None = None) -> TorchEstimator:
        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(self.n_threads)  # small networks: extra threads only add contention
        try:
            return self._fit(X, y, live, epoch_callback)
        finally:
            torch.set_num_threads(threads)

    def _fit(self, X: Any, y: Any, live: Any, epoch_callback: EpochCallback | None) -> TorchEstimator:
        import torch

        torch.manual_seed(self.random_state or 0)
        columns = [str(c) for c in getattr(X, "columns", range(np.shape(X)[1]))]
        self.feature_names_in_ = np.asarray(columns, dtype=object)
        features = np.asarray(X, dtype="float32")
        self.n_features_in_ = features.shape[1]
        self._inspect(features, columns)
        features = self._standardize(features, fit=True)
        targets = self._encode_targets(y)
        train_idx, val_idx = self._split(len(features))
        device = pick_device(self.device)
        module = self._build(features.shape[1], self._n_outputs).to(device)
        tensors = {k: torch.tensor(v, device=device) for k, v in (("X", features), ("y", targets))}
        self.module_, self.history_ = module, []
        best, best_loss, waited = None, float("inf"), 0
        optimizer = torch.optim.AdamW(module.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        generator = torch.Generator().manual_seed(self.random_state or 0)
        for epoch in range(1, self.epochs + 1):
            train_loss = self._train_epoch(module, optimizer, tensors, train_idx, generator)
            val_loss = self._loss_on(module, tensors, val_idx)
            self.history_.append({"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss})
            if live is not None:
                live.log_metric("train_loss", round(train_loss, 6))
                live.log_metric("val_loss", round(val_loss, 6))
                live.next_step()
            if epoch_callback is not None:
                epoch_callback(epoch, val_loss)
            if val_loss < best_loss - 1e-6:
                best, best_loss, waited = {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}, val_loss, 0
            else:
                waited += 1
                if waited >= self.patience:
                    break
        module.load_state_dict(best if best is not None else module.state_dict())
        self.module_ = module.to("cpu").eval()  # fitted models predict on CPU and pickle portably
        self.best_val_loss_ = best_loss
        return self

    def _raw_columns(self) -> list[int]:
        """Columns fed to the network as they are (categorical codes); the rest are standardized."""
        return []

    def _standardize(self, X: np.ndarray, fit: bool = False) -> np.ndarray:
        """Inputs on one scale (unscaled date parts such as a year would swamp the gradients);
        statistics from the train split, stored with the model."""
        if fit:
            self.x_mean_, self.x_std_ = X.mean(axis=0), X.std(axis=0)
            self.x_std_[self.x_std_ < 1e-8] = 1.0
            raw = self._raw_columns()
            self.x_mean_[raw], self.x_std_[raw] = 0.0, 1.0
        return ((X - self.x_mean_) / self.x_std_).astype("float32")

    def _split(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """A seeded validation slice of the train rows (at least one row each side)."""
        order = np.random.default_rng(self.random_state or 0).permutation(n)
        n_val = min(max(1, int(round(n * self.validation_fraction))), n - 1)
        return np.sort(order[n_val:]), np.sort(order[:n_val])

    def _train_epoch(self, module: Any, optimizer: Any, tensors: dict[str, Any], idx: np.ndarray, generator: Any) -> float:
        import torch

        module.train()
        rows = torch.as_tensor(idx)[torch.randperm(len(idx), generator=generator)].to(tensors["X"].device)
        total = 0.0
        for start in range(0, len(rows), self.batch_size):
            batch = rows[start : start + self.batch_size]
            optimizer.zero_grad()
            loss = self._loss(module(tensors["X"][batch]), tensors["y"][batch])
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(batch)
        return total / max(len(rows), 1)

    def _loss_on(self, module: Any, tensors: dict[str, Any], idx: np.ndarray) -> float:
        import torch

        module.eval()
        with torch.no_grad():
            rows = torch.as_tensor(idx, device=tensors["X"].device)
            return float(self._loss(module(tensors["X"][rows]), tensors["y"][rows]))

    def _forward(self, X: Any) -> np.ndarray:
        import torch

        self.module_.eval()
        with torch.no_grad():
            return self.module_(torch.tensor(self._standardize(np.asarray(X, dtype="float32")))).numpy()

    # ---- pickling: the module travels as a torch state (CPU), rebuilt on load

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        module = state.pop("module_", None)
        if module is not None:
            import torch

            buffer = io.BytesIO()
            torch.save(module.state_dict(), buffer)
            state["_module_state"] = buffer.getvalue()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        blob = state.pop("_module_state", None)
        self.__dict__.update(state)
        if blob is not None:
            import torch

            module = self._build(self.n_features_in_, self._n_outputs)
            module.load_state_dict(torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True))
            self.module_ = module.eval()


class TorchClassifierMixin(ClassifierMixin):
    def _encode_targets(self, y: Any) -> np.ndarray:
        self.classes_, codes = np.unique(np.asarray(y), return_inverse=True)
        self._n_outputs = len(self.classes_)
        return codes.astype("int64")

    def _loss(self, output: Any, target: Any) -> Any:
        import torch.nn.functional as F

        return F.cross_entropy(output, target)

    def predict_proba(self, X: Any) -> np.ndarray:
        logits = self._forward(X).astype("float64")
        logits -= logits.max(axis=1, keepdims=True)
        proba = np.exp(logits)
        return proba / proba.sum(axis=1, keepdims=True)

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class TorchRegressorMixin(RegressorMixin):
    def _encode_targets(self, y: Any) -> np.ndarray:
        values = np.asarray(y, dtype="float64")
        self._multi_output = values.ndim == 2
        values = values.reshape(len(values), -1)
        # Standardized targets: one learning rate suits any target scale.
        self.y_mean_, self.y_std_ = values.mean(axis=0), values.std(axis=0) + 1e-12
        self._n_outputs = values.shape[1]
        return ((values - self.y_mean_) / self.y_std_).astype("float32")

    def _loss(self, output: Any, target: Any) -> Any:
        import torch.nn.functional as F

        return F.mse_loss(output, target)

    def predict(self, X: Any) -> np.ndarray:
        pred = self._forward(X).astype("float64") * self.y_std_ + self.y_mean_
        return pred if self._multi_output else pred[:, 0]
