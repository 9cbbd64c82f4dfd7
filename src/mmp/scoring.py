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

from mmp.errors import MMPError
from mmp.features import transform
from mmp.metrics import predict_labels


@dataclass
class Scorer:
    featurizer: Any
    model: Any
    schema: dict[str, Any]
    metadata: dict[str, Any]

    @classmethod
    def load(cls, artifacts: dict[str, str]) -> Scorer:
        return cls(
            featurizer=joblib.load(artifacts["featurizer"]),
            model=joblib.load(artifacts["model"]),
            schema=json.loads(Path(artifacts["schema"]).read_text()),
            metadata=json.loads(Path(artifacts["metadata"]).read_text()),
        )

    @property
    def task(self) -> str:
        return self.schema["task_type"]

    @property
    def input_columns(self) -> list[dict[str, Any]]:
        return self.schema["columns"]

    def conform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Check required columns are present and give each column its declared type."""
        features = [c for c in self.input_columns if c["role"] == "feature"]
        missing = [c["name"] for c in features if c["name"] not in frame.columns]
        if missing:
            raise MMPError("input", f"missing required column(s) {missing}", ", ".join(c["name"] for c in features))
        out = {}
        for col in features:
            values = frame[col["name"]]
            if col["dtype"] == "datetime":
                values = pd.to_datetime(values, errors="coerce")
            elif col["dtype"] in ("int", "float"):
                values = pd.to_numeric(values, errors="coerce").astype("float64")
            out[col["name"]] = values
        return pd.DataFrame(out, index=frame.index)

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        X = transform(self.featurizer, self.conform(frame))
        if self.task == "regression":
            pred = np.asarray(self.model.predict(X))
            if pred.ndim == 1:
                return pd.DataFrame({"prediction": pred}, index=frame.index)
            return pd.DataFrame({f"prediction_{t}": pred[:, i] for i, t in enumerate(self.schema["targets"])}, index=frame.index)
        proba = np.asarray(self.model.predict_proba(X))
        classes = np.asarray(self.model.classes_)
        out = {"prediction": predict_labels(proba, classes, self.metadata.get("threshold", 0.5))}
        out.update({f"proba_{c}": proba[:, i] for i, c in enumerate(classes)})
        return pd.DataFrame(out, index=frame.index)
