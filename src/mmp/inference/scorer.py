"""Raw rows in, predictions out: the one scoring path shared by the packaged MLflow model, the
HTTP server and batch scoring. No MLflow import here, so serving stays light."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd

from mmp.core.errors import MMPError
from mmp.data.schema import InputSchema
from mmp.modeling.features import transform
from mmp.modeling.metrics import predict_labels


@dataclass
class Scorer:
    featurizer: Any
    model: Any
    schema: InputSchema
    metadata: dict[str, Any]

    @classmethod
    def load(cls, artifacts: dict[str, str]) -> Scorer:
        return cls(
            featurizer=joblib.load(artifacts["featurizer"]),
            model=joblib.load(artifacts["model"]),
            schema=InputSchema.read(artifacts["schema"]),
            metadata=json.loads(Path(artifacts["metadata"]).read_text()),
        )

    @property
    def task(self) -> str:
        return self.schema.task_type

    def conform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Check required columns are present and give each column its declared type."""
        features = self.schema.features
        missing = [c.name for c in features if c.name not in frame.columns]
        if missing:
            raise MMPError("input", f"missing required column(s) {missing}", ", ".join(self.schema.feature_names))
        out = {}
        for col in features:
            values = frame[col.name]
            if col.dtype == "datetime":
                values = pd.to_datetime(values, errors="coerce")
            elif col.dtype in ("int", "float"):
                values = pd.to_numeric(values, errors="coerce").astype("float64")
            out[col.name] = values
        return pd.DataFrame(out, index=frame.index)

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        X = transform(self.featurizer, self.conform(frame))
        if self.task == "regression":
            pred = np.asarray(self.model.predict(X))
            if pred.ndim == 1:
                return pd.DataFrame({"prediction": pred}, index=frame.index)
            return pd.DataFrame({f"prediction_{t}": pred[:, i] for i, t in enumerate(self.schema.targets)}, index=frame.index)
        proba = np.asarray(self.model.predict_proba(X), dtype="float64")
        classes = np.asarray(self.model.classes_)
        out = {"prediction": predict_labels(proba, classes, self.metadata.get("threshold", 0.5))}
        out.update({f"proba_{c}": proba[:, i] for i, c in enumerate(classes)})
        return pd.DataFrame(out, index=frame.index)
