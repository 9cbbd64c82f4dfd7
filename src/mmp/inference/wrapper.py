"""The one model contract: every model kind the product trains, packages, serves and scores sits
behind :class:`ModelWrapper`. Serving, batch scoring, the pyfunc package and the MLflow mirror
use only this interface, so a new kind (chosen by its recipe, ``conf/model/*.yaml``) needs no
change to any of them.

A package names its kind in ``metadata.json`` (``kind``, ``tabular`` when absent: every package
written before kinds existed is tabular). A built-in kind is looked up in :data:`KINDS`; any other
``kind`` is an import path ``module:Class`` (see :mod:`mmp.core.plugins`), so a kind may live in
the user's repository.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, Self, runtime_checkable

import yaml

from mmp.core.errors import MMPError
from mmp.core.plugins import import_object

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from mmp.data.schema import InputSchema
    from mmp.inference.explain import Explanation

# kind -> the class implementing it (imported on first use: a kind's libraries load only when used)
KINDS: dict[str, str] = {"tabular": "mmp.inference.scorer:Scorer", "llm_graph": "mmp.inference.llm:LLMGraph"}
DEFAULT_KIND = "tabular"
PACKAGE = "a model package saved by the package stage (MLmodel + artifacts/)"


@runtime_checkable
class ModelWrapper(Protocol):
    """A fitted model with the data contract it was trained on.

    - ``schema``: the input columns (the request's fields, the pyfunc signature's inputs) and the
      task; ``features`` their names; ``output_columns`` what :meth:`predict` returns;
    - ``metadata``: the package's ``metadata.json`` (``kind``, ``threshold``, ``metrics``, ...);
    - ``classes``: a classifier's class labels (None otherwise); ``backend``: how it scores, as
      ``/model-info`` reports it.
    """

    kind: ClassVar[str]
    schema: InputSchema
    metadata: dict[str, Any]
    classes: np.ndarray | None
    backend: str
    features: list[str]

    @property
    def output_columns(self) -> list[str]: ...

    @classmethod
    def train(cls, frame: pd.DataFrame, params: Any, best: Mapping[str, Any] | None = None, logger: Any | None = None) -> Any:
        """Fit the recipe (``params``, with tuned values ``best``) on the train rows; the fitted
        object the package stores. ``logger`` (dvclive) gets training curves."""
        ...

    def evaluate(self, frame: pd.DataFrame, extra: Sequence[Any] = ()) -> dict[str, float]:
        """Labelled rows (inputs and targets) in, the kind's offline metrics out. ``extra``: the
        recipe's ``evaluate.extra_metrics`` (loaded), which a kind without them ignores."""
        ...

    @classmethod
    def load(cls, artifacts: Mapping[str, str | Path]) -> Self:
        """From the package's artifact files (name -> path, as MLmodel lists them)."""
        ...

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Input rows to one output row each, same index (the pyfunc contract)."""
        ...

    def predict_columns(self, columns: Mapping[str, Any], n_rows: int) -> dict[str, np.ndarray]:
        """Input columns (name -> values) to output columns: the HTTP and batch path."""
        ...


@runtime_checkable
class Explainable(Protocol):
    """A capability only some kinds have: per-row explanations by raw input column (``/explain``,
    ``mmp predict --explain``). Check with ``isinstance`` and refuse with :func:`no_explanations`."""

    def explain_columns(self, columns: Mapping[str, Any], n_rows: int) -> tuple[dict[str, np.ndarray], Explanation]: ...


def no_explanations(model: ModelWrapper, key: str = "explain") -> MMPError:
    """The one refusal for a kind that cannot explain (a 4xx over HTTP, exit 2 in the CLI)."""
    return MMPError(key, f"model kind {model.kind} has no explanations", "a model kind with explain_columns (tabular)")


def wrapper_class(kind: str) -> type[ModelWrapper]:
    """The class of a kind: a built-in name or a ``module:Class`` path."""
    cls: type[ModelWrapper] = import_object(KINDS.get(kind, kind), "kind")
    return cls


def package_kind(metadata: Mapping[str, Any]) -> str:
    return str(metadata.get("kind") or DEFAULT_KIND)


def load_artifacts(artifacts: Mapping[str, str | Path]) -> ModelWrapper:
    """The wrapper of a package's artifacts (the pyfunc's ``context.artifacts``), by the kind its
    ``metadata`` artifact names."""
    metadata = json.loads(Path(artifacts["metadata"]).read_text())
    return wrapper_class(package_kind(metadata)).load(artifacts)


def load_wrapper(path: str | Path, source: str | None = None) -> ModelWrapper:
    """The model of a local pyfunc directory, whatever its kind. ``source`` is how the user named
    it (a registry URI, say), for the error message."""
    root = Path(path)
    try:
        meta = yaml.safe_load((root / "MLmodel").read_text())
        listed = meta["flavors"]["python_function"]["artifacts"]
        return load_artifacts({name: root / entry["path"] for name, entry in listed.items()})
    except MMPError:
        raise
    except (KeyError, TypeError, OSError, ValueError, ImportError, yaml.YAMLError) as err:
        raise MMPError("--model", f"{source or path} is not an mmp model package ({type(err).__name__}: {err})", PACKAGE) from None
