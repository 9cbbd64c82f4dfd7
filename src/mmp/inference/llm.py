"""The ``llm_graph`` kind of :class:`mmp.inference.wrapper.ModelWrapper`: a LangGraph graph that
answers a text input. Its artifacts are the graph's code (``graph``: the source of
:mod:`mmp.modeling.llm.graph`, run from the package, not from the installed mmp), its prompts
(``prompts``: prompts.yaml), its settings (``settings``: ``model.llm``), the fake provider's
script (``script``), the input schema and the metadata. No API key is ever among them: a real
provider reads it from the environment when the graph is built."""

from __future__ import annotations

import hashlib
import json
import sys
import types
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self

import numpy as np
import pandas as pd
import yaml

from mmp.core.config import LLMConfig
from mmp.core.errors import MMPError
from mmp.data.schema import InputSchema
from mmp.modeling.llm import graph as graph_module
from mmp.modeling.llm.metrics import score_answers

if TYPE_CHECKING:
    from mmp.core.config import Params

# artifact name -> file name in the package
SPEC_FILES = {"graph": "graph.py", "prompts": "prompts.yaml", "settings": "settings.json", "script": "script.yaml"}
REQUIREMENTS = ("langchain-core", "langgraph", "jsonschema")


def graph_spec(settings: LLMConfig, root: Path = Path()) -> dict[str, str]:
    """What train writes as the model: the graph's code, the prompts and the settings (and the
    fake provider's script), each as the text the package stores. Paths are the recipe's,
    relative to ``root`` (the repository)."""
    spec = {
        "graph": Path(graph_module.__file__).read_text(),
        "prompts": _read(root, settings.prompts, "model.llm.prompts"),
        "settings": json.dumps(settings.model_dump(mode="json"), indent=2, sort_keys=True) + "\n",
    }
    if settings.provider == "fake" and settings.script:
        spec["script"] = _read(root, settings.script, "model.llm.script")
    return spec


def _read(root: Path, path: str, key: str) -> str:
    try:
        return (root / path).read_text()
    except OSError as err:
        raise MMPError(key, f"cannot read {path} ({err.strerror})", "a file in the repository") from None


def graph_code(source: str) -> types.ModuleType:
    """The packaged graph code as a module (registered under a name derived from its text, so
    LangGraph can resolve the state's type hints; the same code loads once)."""
    name = f"mmp_llm_graph_{hashlib.sha256(source.encode()).hexdigest()[:16]}"
    if name not in sys.modules:
        module = types.ModuleType(name)
        sys.modules[name] = module
        exec(compile(source, f"<{name}>", "exec"), module.__dict__)  # noqa: S102  # the package's own code, as a pickle would be
    return sys.modules[name]


class LLMGraph:
    """A compiled LLM graph with the input schema it answers (one text column in, ``prediction``
    out) and the golden set's target column for :meth:`evaluate`."""

    kind: ClassVar[str] = "llm_graph"
    classes: np.ndarray | None = None  # generated text, no class labels

    def __init__(self, spec: Mapping[str, str], schema: InputSchema, metadata: Mapping[str, Any]):
        self.spec, self.schema, self.metadata = dict(spec), schema, dict(metadata)
        self.settings = LLMConfig.model_validate_json(spec["settings"])
        self.features = schema.feature_names
        script = yaml.safe_load(spec["script"]) if spec.get("script") else None
        self.graph = graph_code(spec["graph"]).build_graph(self.settings, yaml.safe_load(spec["prompts"]) or {}, script)
        self.backend = f"langgraph ({self.settings.provider}:{self.settings.model_name})"
        self.requirements = REQUIREMENTS

    @property
    def task(self) -> str:
        return self.schema.task_type

    @property
    def output_columns(self) -> list[str]:
        return ["prediction"]

    @classmethod
    def train(cls, frame: pd.DataFrame, params: Params, best: Mapping[str, Any] | None = None, logger: Any | None = None) -> dict[str, str]:
        """Nothing to fit: the model is the graph's spec (code, prompts, settings)."""
        assert params.model.llm is not None  # ModelConfig requires it for llm_graph
        return graph_spec(params.model.llm)

    @classmethod
    def load(cls, artifacts: Mapping[str, str | Path]) -> Self:
        spec = {name: Path(artifacts[name]).read_text() for name in SPEC_FILES if name in artifacts}
        metadata = json.loads(Path(artifacts["metadata"]).read_text())
        return cls(spec, InputSchema.read(Path(artifacts["schema"])), metadata)

    def answers(self, texts: Any) -> np.ndarray:
        return np.asarray([graph_module_answer(self.graph, str(t)) for t in texts], dtype=object)

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        missing = [name for name in self.features if name not in frame.columns]
        if missing:
            raise MMPError("input", f"missing required column(s) {missing}", ", ".join(self.features))
        return pd.DataFrame(self.predict_columns({n: frame[n].tolist() for n in self.features}, len(frame)), index=frame.index)

    def predict_columns(self, columns: Mapping[str, Any], n_rows: int) -> dict[str, np.ndarray]:
        return {"prediction": self.answers(columns[self.features[0]])}

    def evaluate(self, frame: pd.DataFrame, extra: Sequence[Any] = ()) -> dict[str, float]:
        """The golden-set metrics; ``extra`` (the recipe's extra metric functions) take labels
        and scores, which a generated answer has not: refused rather than ignored."""
        if extra:
            raise MMPError("evaluate.extra_metrics", "are not computed for an llm_graph model", "none for this kind")
        return self.evaluate_examples(frame)[0]

    def evaluate_examples(self, frame: pd.DataFrame) -> tuple[dict[str, float], list[dict[str, Any]]]:
        """The metrics over labelled rows and one record per row (input, expected, prediction
        and its scores): the per-example results the mirror logs."""
        inputs, expected = frame[self.features[0]].astype(str).tolist(), frame[self.schema.targets[0]].astype(str).tolist()
        predictions = self.answers(inputs).tolist()
        structured = self.settings.output == "json"
        scores, rows = score_answers(predictions, expected, self.settings.json_schema, structured)
        examples = [
            {"input": i, "expected": e, "prediction": p, **row} for i, e, p, row in zip(inputs, expected, predictions, rows, strict=True)
        ]
        return scores, examples


def graph_module_answer(graph: Any, text: str) -> str:
    """One answer of a compiled graph (its ``output``), with LangGraph's step limit."""
    return str(graph.invoke({"input": text}, {"recursion_limit": graph_module.MAX_STEPS})["output"])


if TYPE_CHECKING:  # mypy holds the llm_graph kind to the whole contract
    from mmp.inference.wrapper import ModelWrapper

    _LLM: type[ModelWrapper] = LLMGraph
