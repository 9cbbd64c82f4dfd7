"""The serving and batch fast path around :class:`mmp.inference.scorer.Scorer`.

Columns (name -> values) go through the compiled numpy featurizer and straight into the model;
no per-call DataFrame, no ColumnTransformer. When the featurizer holds a transformer that
:mod:`mmp.inference.compiled` does not know, the sklearn path is used instead, and that choice is logged
once when the scorer is built and reported by ``fast_path`` (never silent).
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np
import pandas as pd

from mmp.data.schema import InputSchema
from mmp.inference.compiled import Columns, CompiledFeaturizer, NotCompilable, compile_featurizer
from mmp.inference.scorer import Scorer
from mmp.modeling.metrics import predict_labels

log = logging.getLogger("mmp.inference.scorer")
SINGLE_THREAD_ROWS = 2048  # OpenMP start-up costs more than it saves on small batches


class FastScorer:
    def __init__(self, scorer: Scorer):
        self.scorer = scorer
        self.features = scorer.schema.feature_names
        self.compiled: CompiledFeaturizer | None = None
        self.fallback_reason: str | None = None
        try:
            self.compiled = compile_featurizer(scorer.featurizer)
        except NotCompilable as err:
            self.fallback_reason = str(err)
            log.warning("featurizer fast path unavailable (%s): using the sklearn featurizer", err)
        self.booster = _lightgbm_booster(scorer.model)

    @property
    def fast_path(self) -> str:
        return "numpy" if self.compiled else f"sklearn ({self.fallback_reason})"

    @property
    def output_columns(self) -> list[str]:
        if self.scorer.task == "regression":
            targets = self.scorer.schema.targets
            return ["prediction"] if len(targets) == 1 else [f"prediction_{t}" for t in targets]
        return ["prediction", *(f"proba_{c}" for c in self.scorer.model.classes_)]

    def predict_columns(self, columns: Columns, n_rows: int) -> dict[str, np.ndarray]:
        """Feature columns in, output columns (prediction, proba_<class>) out."""
        if self.compiled is None:
            frame = self.scorer.predict(pd.DataFrame({c: columns[c] for c in self.features}))
            return {c: frame[c].to_numpy() for c in frame.columns}
        X = self.compiled.transform(columns)
        if self.scorer.task == "regression":
            pred = self._raw_predict(X)
            pred = pred.reshape(n_rows, -1)
            return dict(zip(self.output_columns, pred.T, strict=True))
        proba = self._proba(X)
        classes = np.asarray(self.scorer.model.classes_)
        out = {"prediction": predict_labels(proba, classes, self.scorer.metadata.get("threshold", 0.5))}
        out.update({f"proba_{c}": proba[:, i] for i, c in enumerate(classes)})
        return out

    def predict_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        columns = frame_columns(frame, self.scorer.schema)
        return pd.DataFrame(self.predict_columns(columns, len(frame)), index=frame.index)

    def _threads(self, X: np.ndarray) -> dict[str, Any]:
        return {"num_threads": 1} if len(X) < SINGLE_THREAD_ROWS else {}

    def _raw_predict(self, X: np.ndarray) -> np.ndarray:
        if self.booster is not None:
            return np.asarray(self.booster.predict(X, **self._threads(X)))
        return np.asarray(self.scorer.model.predict(self._named(X)))

    def _proba(self, X: np.ndarray) -> np.ndarray:
        if self.booster is not None:
            raw = np.asarray(self.booster.predict(X, **self._threads(X)))
            # LGBMClassifier.predict_proba does exactly this for the binary objective
            return np.column_stack([1.0 - raw, raw]) if raw.ndim == 1 else raw
        return np.asarray(self.scorer.model.predict_proba(self._named(X)))

    def _named(self, X: np.ndarray) -> Any:
        if hasattr(self.scorer.model, "feature_names_in_"):  # fitted on a frame: give it one
            return pd.DataFrame(X, columns=self.compiled.feature_names if self.compiled else None)
        return X


def _lightgbm_booster(model: Any) -> Any:
    """LightGBM's booster predicts without the sklearn wrapper's per-call validation; used only
    for the stock objectives whose probabilities the wrapper computes the same way."""
    if not type(model).__module__.startswith("lightgbm") or callable(getattr(model, "objective", None)):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return getattr(model, "booster_", None)


def frame_columns(frame: pd.DataFrame, schema: InputSchema) -> dict[str, np.ndarray]:
    """A raw frame as typed numpy columns (numbers float64 with NaN, dates datetime64)."""
    out = {}
    for col in schema.features:
        name = col.name
        if name not in frame:
            continue
        values = frame[name]
        if col.dtype in ("int", "float"):
            out[name] = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        elif col.dtype == "datetime":
            out[name] = pd.to_datetime(values, errors="coerce").to_numpy(dtype="datetime64[ns]")
        else:  # text stays as pandas holds it (Arrow strings are looked up without a copy)
            out[name] = values.array
    return out
