"""A model kind that lives outside mmp and outside :data:`mmp.inference.wrapper.KINDS`: its
package names it by import path (``kind: tests.kinds.echo:EchoModel`` in metadata.json). It
answers text with text, as an LLM graph would, so the serving, batch and pyfunc paths are proven
to carry string outputs and to need no change for a new kind."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from mmp.data.schema import InputSchema, SchemaColumn

KIND = "tests.kinds.echo:EchoModel"
SCHEMA = InputSchema(
    columns=[SchemaColumn(name="question", dtype="string", nullable=False)],
    targets=["answer"],
    task_type="multiclass",  # text labels: the nearest task the schema knows
    example={"question": "ping"},
)


class EchoModel:
    """Answers ``<prefix><question>``; ``train`` only learns the prefix from the recipe."""

    kind: ClassVar[str] = "echo"
    classes = None
    backend = "echo"

    def __init__(self, prefix: str, schema: InputSchema = SCHEMA, metadata: Mapping[str, Any] | None = None):
        self.prefix, self.schema = prefix, schema
        self.metadata = {"kind": KIND, "prefix": prefix, **(metadata or {})}
        self.features = schema.feature_names

    @property
    def output_columns(self) -> list[str]:
        return ["prediction"]

    @classmethod
    def train(cls, frame: pd.DataFrame, params: Any, best: Mapping[str, Any] | None = None, logger: Any | None = None) -> EchoModel:
        return cls(str(params.get("prefix", "echo: ")))

    def evaluate(self, frame: pd.DataFrame, extra: Sequence[Any] = ()) -> dict[str, float]:
        answers = self.predict(frame)["prediction"]
        return {"exact_match": float((answers == frame["answer"]).mean())}

    @classmethod
    def load(cls, artifacts: Mapping[str, str | Path]) -> EchoModel:
        metadata = json.loads(Path(artifacts["metadata"]).read_text())
        return cls(metadata["prefix"], InputSchema.read(Path(artifacts["schema"])), metadata)

    def save(self, directory: Path) -> dict[str, Path]:
        """The artifact files ``load`` reads back (what :func:`mmp.inference.pyfunc.save_package` stores)."""
        files = {"schema": directory / "schema.json", "metadata": directory / "metadata.json"}
        files["schema"].write_text(json.dumps(self.schema.to_json()))
        files["metadata"].write_text(json.dumps(self.metadata))
        return files

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame(self.predict_columns({"question": frame["question"]}, len(frame)), index=frame.index)

    def predict_columns(self, columns: Mapping[str, Any], n_rows: int) -> dict[str, np.ndarray]:
        return {"prediction": np.asarray([f"{self.prefix}{q}" for q in columns["question"]], dtype=object)}
