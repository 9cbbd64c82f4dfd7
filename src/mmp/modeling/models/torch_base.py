"""The training loop shared by mmp's PyTorch estimators: seeded mini-batches, early stopping on a
seeded validation slice of the train split, per-epoch losses to dvclive, and an
``epoch_callback(epoch, val_loss)`` hook for tuning (an exception it raises, such as
``optuna.TrialPruned``, propagates). torch is imported inside methods only: importing this
module stays cheap."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

from mmp.core.errors import MMPError

EpochCallback = Callable[[int, float], None]
FINETUNE_KEY = "model.finetune.from"
# What a fine-tune adopts from its base besides the fitted ``*_`` facts (columns, scaling, classes,
# categorical codes, encoder), and the fitted results it does not.
INPUT_FACTS = ("_n_outputs", "_multi_output")
TRAINED = ("module_", "history_", "best_val_loss_", "class_weights_")


def warm_start_checks(estimator: Any, base: Any, X: Any) -> None:
    """A fine-tune's base must be a fitted model of the recipe's class, on the same featurized columns."""
    if type(base) is not type(estimator) or getattr(base, "module_", None) is None:
        raise MMPError(
            FINETUNE_KEY, f"holds a {type(base).__name__}, the recipe builds a {type(estimator).__name__}", "a model of the recipe's class"
        )
    columns = [str(c) for c in getattr(X, "columns", range(np.shape(X)[1]))]
    known = [str(c) for c in base.feature_names_in_]
    if columns != known:
        extra, missing = sorted(set(columns) - set(known)), sorted(set(known) - set(columns))
        what = f"new {extra}, missing {missing}" if extra or missing else "the same columns in another order"
        raise MMPError(
            FINETUNE_KEY,
            f"the base model was trained on other featurized columns ({what})",
            "the same data and features recipe as the base model",
        )


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

    def _build(self, n_inputs: int, n_outputs: int) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _inspect(self, X: np.ndarray, columns: list[str]) -> None:
        """Learn facts about the inputs before the network is built (e.g. categorical columns)."""

    # ---- fitting

    def fit(self, X: Any, y: Any, live: Any = None, epoch_callback: EpochCallback | None = None) -> TorchEstimator:
        import torch

        with self._threads():
            torch.manual_seed(self.random_state or 0)
            columns = [str(c) for c in getattr(X, "columns", range(np.shape(X)[1]))]
            self.feature_names_in_ = np.asarray(columns, dtype=object)
            features = np.asarray(X, dtype="float32")
            self.n_features_in_ = features.shape[1]
            self._inspect(features, columns)
            features = self._standardize(features, fit=True)
            targets = self._encode_targets(y)
            self.class_weights_ = None
            module = self._build(features.shape[1], self._n_outputs)
            self._init_module(module)
            return self._train(module, features, targets, self.epochs, live, epoch_callback)

    def fine_tune(self, base: Any, X: Any, y: Any, epochs: int, balanced: bool = True, live: Any = None) -> TorchEstimator:
        """Warm-start from ``base`` (a fitted estimator of this class, e.g. the champion's): its
        input facts (columns, scaling, classes) and its network's weights, then ``epochs`` more
        epochs on ``X, y``; ``balanced`` weighs each class's loss by ``n / (n_classes * count)``.
        A ``base`` of another class, columns or network shape is refused in one line. An encoder
        pre-trained for this run (``model.pretrain``) replaces the base's; else the base's trained
        encoder is kept, and its pre-trained artifact carried forward."""
        import torch

        warm_start_checks(self, base, X)
        pretrained = self.__dict__.get("encoder_")  # set by pretrain_encoder just before
        with self._threads():
            torch.manual_seed(self.random_state or 0)
            self.__dict__.update({k: v for k, v in base.__dict__.items() if k in INPUT_FACTS or (k.endswith("_") and k not in TRAINED)})
            if pretrained is not None:
                self.encoder_ = pretrained
            self._check_known_inputs(np.asarray(X, dtype="float32"))
            features = self._standardize(np.asarray(X, dtype="float32"))
            targets = self._encode_known_targets(y)
            self.class_weights_ = self._balanced_weights(targets) if balanced else None
            module = self._build(self.n_features_in_, self._n_outputs)
            try:
                module.load_state_dict(base.module_.state_dict())
            except RuntimeError as err:
                first = str(err).strip().splitlines()[-1].strip()
                raise MMPError(
                    FINETUNE_KEY,
                    f"the recipe's network differs from the base model's ({first})",
                    "the base model's architecture hyperparameters",
                ) from None
            if pretrained is not None:
                self._init_module(module)
            return self._train(module, features, targets, epochs, live, None)

    def _check_known_inputs(self, X: np.ndarray) -> None:
        """A fine-tune's inputs must mean what they meant to its base (the TabTransformer's codes)."""

    def _init_module(self, module: Any) -> None:
        """Initialise parts of a freshly built network before training (the TabTransformer's pre-trained encoder)."""

    @contextlib.contextmanager
    def _threads(self) -> Iterator[None]:
        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(self.n_threads)  # small networks: extra threads only add contention
        try:
            yield
        finally:
            torch.set_num_threads(threads)

    def _train(
        self, module: Any, features: np.ndarray, targets: np.ndarray, epochs: int, live: Any, epoch_callback: EpochCallback | None
    ) -> TorchEstimator:
        import torch

        train_idx, val_idx = self._split(len(features))
        device = pick_device(self.device)
        module = module.to(device)
        tensors = {k: torch.tensor(v, device=device) for k, v in (("X", features), ("y", targets))}
        if self.class_weights_ is not None:
            tensors["w"] = torch.tensor(self.class_weights_, dtype=torch.float32, device=device)
        self.module_, self.history_ = module, []
        best, best_loss, waited = None, float("inf"), 0
        optimizer = torch.optim.AdamW(module.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        generator = torch.Generator().manual_seed(self.random_state or 0)
        for epoch in range(1, epochs + 1):
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
            loss = self._loss(module(tensors["X"][batch]), tensors["y"][batch], tensors.get("w"))
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(batch)
        return total / max(len(rows), 1)

    def _loss_on(self, module: Any, tensors: dict[str, Any], idx: np.ndarray) -> float:
        import torch

        module.eval()
        with torch.no_grad():
            rows = torch.as_tensor(idx, device=tensors["X"].device)
            return float(self._loss(module(tensors["X"][rows]), tensors["y"][rows], tensors.get("w")))

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

    def _encode_known_targets(self, y: Any) -> np.ndarray:
        """``y`` as codes of the already known ``classes_`` (a fine-tune keeps its base's classes)."""
        values = np.asarray(y)
        unknown = sorted(set(np.unique(values).tolist()) - set(self.classes_.tolist()))
        if unknown:
            raise MMPError("data.target_col", f"labels {unknown} are not classes of the base model", ", ".join(map(str, self.classes_)))
        return np.searchsorted(self.classes_, values).astype("int64")

    def _balanced_weights(self, codes: np.ndarray) -> np.ndarray:
        """scikit-learn's ``balanced`` rule, ``n / (n_classes * count)``, over the classes present
        (an absent class has no rows to weigh: 1)."""
        counts = np.bincount(codes, minlength=len(self.classes_)).astype("float64")
        present = counts > 0
        weights = np.ones(len(counts))
        weights[present] = len(codes) / (present.sum() * counts[present])
        return weights

    def _loss(self, output: Any, target: Any, weight: Any = None) -> Any:
        import torch.nn.functional as F

        return F.cross_entropy(output, target, weight=weight)

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

    def _encode_known_targets(self, y: Any) -> np.ndarray:
        """``y`` on the base model's target scale (a fine-tune keeps its base's standardization)."""
        values = np.asarray(y, dtype="float64").reshape(len(y), -1)
        return ((values - self.y_mean_) / self.y_std_).astype("float32")

    def _balanced_weights(self, codes: np.ndarray) -> None:
        return None  # class weights are a classification matter

    def _loss(self, output: Any, target: Any, weight: Any = None) -> Any:
        import torch.nn.functional as F

        return F.mse_loss(output, target)

    def predict(self, X: Any) -> np.ndarray:
        pred = self._forward(X).astype("float64") * self.y_std_ + self.y_mean_
        return pred if self._multi_output else pred[:, 0]
