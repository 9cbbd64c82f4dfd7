"""The pipeline's steps for an LLM graph (``model.kind: llm_graph``), in the same dvc.yaml stages
as every other recipe: prepare reads the golden set (every row an evaluation row), featurize and
tune pass through, train writes the graph's spec (code, prompts, settings) as the model, evaluate
answers the golden set and scores the answers, package writes the pyfunc of kind ``llm_graph``.
The stages ask :func:`is_llm` once each and hand over to these steps."""

from __future__ import annotations

import json
import tempfile
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from mmp.core.config import DataConfig, Params
from mmp.core.errors import MMPError
from mmp.core.io import atomic_path, write_json
from mmp.data.schema import InputSchema, SchemaColumn
from mmp.pipeline.steps import Prepared

if TYPE_CHECKING:
    from mmp.inference.model_card import DataFile

GOLDEN = 'a JSONL golden set: one {"input": ..., "expected": ...} object a line'
EXAMPLES_FILE = "examples.jsonl"  # evaluate's per-example results, in its live directory


def is_llm(params: Params) -> bool:
    """The one dispatch rule: the stages run these steps for this model kind."""
    return params.model.kind == "llm_graph"


def golden_schema(frame: pd.DataFrame, data: DataConfig) -> InputSchema:
    """One text input column (the golden set's input) and the expected answer as the target."""
    inputs = [str(c) for c in frame.columns if c not in data.label_cols and c not in data.id_cols]
    missing = [c for c in data.targets if c not in frame.columns]
    if missing or len(inputs) != 1:
        found = f"columns {list(map(str, frame.columns))}"
        raise MMPError("data.source_uri", f"{found}: an LLM golden set needs one input column and {data.targets}", GOLDEN)
    columns = [SchemaColumn(name=inputs[0], dtype="string", nullable=False)]
    columns += [SchemaColumn(name=c, dtype="string", nullable=False, role="id") for c in data.id_cols]
    example = {inputs[0]: str(frame[inputs[0]].iloc[0])} if len(frame) else {}
    return InputSchema(columns=columns, targets=data.targets, task_type=data.task_type, id_cols=data.id_cols, example=example)


def prepare_golden(frame: pd.DataFrame, data: DataConfig) -> Prepared:
    """Every golden row is a test row (a graph is not fitted); the train split is empty, with
    the same columns, so every later stage finds the files it reads."""
    if frame.empty:
        raise MMPError("data.source_uri", "the golden set has no rows", GOLDEN)
    schema = golden_schema(frame, data)
    frame = frame.astype({c: "string" for c in frame.columns})
    blank = [c for c in frame.columns if frame[c].isna().any()]
    if blank:
        raise MMPError("data.source_uri", f"missing values in column(s) {blank}", GOLDEN)
    stats = {"rows": {"train": 0, "test": len(frame)}, "task_type": data.task_type}
    return Prepared(frame.iloc[:0], frame.reset_index(drop=True), schema, stats, {}, {})


def write_no_quality(directory: str | Path) -> None:
    """The quality report's output for a golden set: no tabular checks apply."""
    with atomic_path(directory) as tmp:
        tmp.mkdir()
        write_json(tmp / "quality.json", {"skipped": "an LLM golden set has no tabular quality checks"})


def pass_through(prepared: Path, out: str) -> None:
    """featurize: the graph reads the raw text, so the features are the prepared splits."""
    with atomic_path(out) as tmp:
        tmp.mkdir()
        for name in ("train", "test"):
            (tmp / f"{name}.parquet").write_bytes((prepared / f"{name}.parquet").read_bytes())


def evaluate_graph(test: pd.DataFrame, spec: dict[str, str], params: Params, live_dir: Path) -> dict[str, Any]:
    """Answer the golden rows and score the answers; each example's result goes to
    ``live_dir/examples.jsonl`` (the mirror logs it to MLflow)."""
    from mmp.inference.llm import LLMGraph

    graph = LLMGraph(spec, golden_schema(test, params.data), {})
    scores, examples = graph.evaluate_examples(test)
    lines = "".join(json.dumps(row, sort_keys=True) + "\n" for row in examples)
    (live_dir / EXAMPLES_FILE).write_text(lines)
    return scores


def package_graph(
    out: Path, spec: dict[str, str], schema: InputSchema, metrics: dict[str, Any], params: Params, created: datetime, data: list[DataFile]
) -> None:
    """The pyfunc of kind ``llm_graph``: the graph's code, prompts, settings (and script) with
    the input schema and the metadata, plus the model card."""
    from mmp.inference.llm import SPEC_FILES
    from mmp.inference.model_card import render_card
    from mmp.inference.pyfunc import save_package
    from mmp.modeling.gate import evaluate_gate

    key, gate = params.evaluate.gate_for(params.data.task_type)
    card = render_card(params, metrics, evaluate_gate(gate, metrics, None, key), data, schema)
    with tempfile.TemporaryDirectory() as scratch:
        files = {name: Path(scratch) / SPEC_FILES[name] for name in spec}
        for name, text in spec.items():
            files[name].write_text(text)
        files["schema"], files["metadata"] = Path(scratch) / "schema.json", Path(scratch) / "metadata.json"
        write_json(files["schema"], schema.to_json())
        write_json(files["metadata"], {"kind": "llm_graph", "model_class": params.model.class_path, "metrics": metrics})
        save_package(out, files, created)
    (out / "MODEL_CARD.md").write_text(card)
