"""The deployable model: an MLflow pyfunc directory holding the featurizer, the model, the data
contract (schema), a signature and an input example. It takes RAW rows and returns predictions
(with class probabilities for classifiers). Saved byte-for-byte deterministically."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import pandas as pd
from mlflow.models import Model, ModelSignature
from mlflow.pyfunc.model import PythonModel
from mlflow.types import ColSpec, Schema, TensorSpec

from mmp.core.quiet import quiet_mlflow
from mmp.data.schema import InputSchema
from mmp.inference.wrapper import ModelWrapper, load_artifacts, package_kind

MLFLOW_TYPES = {"int": "long", "float": "double", "bool": "boolean", "category": "string", "string": "string", "datetime": "datetime"}
BASE_REQUIREMENTS = ("mlflow", "pandas", "numpy", "scikit-learn", "joblib", "pyarrow")


class TabularModel(PythonModel):
    """The pyfunc of every mmp package, whatever its kind (the name predates kinds and is in
    every saved package's pickle): :class:`mmp.inference.wrapper.ModelWrapper` by the kind its
    metadata names."""

    def load_context(self, context: Any) -> None:
        self.scorer = load_artifacts(context.artifacts)

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        return self.scorer.predict(model_input)


def input_signature(schema: InputSchema) -> Schema:
    """Feature columns are required; id and time columns may be sent along and are ignored."""
    specs: list[ColSpec | TensorSpec] = []
    for col in schema.columns:
        kind = "double" if col.dtype == "int" and col.nullable else MLFLOW_TYPES[col.dtype]
        specs.append(ColSpec(kind, col.name, required=col.role == "feature"))
    return Schema(specs)


def example_frame(schema: InputSchema) -> pd.DataFrame:
    """A one-row input example made of per-column medians/modes (no real row is stored)."""
    frame = pd.DataFrame([{c.name: schema.example[c.name] for c in schema.features}])
    for col in schema.features:
        if col.dtype == "datetime":
            frame[col.name] = pd.to_datetime(frame[col.name])
    return frame


def pip_requirements(model: Any, extra: tuple[str, ...] = ()) -> list[str]:
    """Pinned from the running environment (explicit pins skip MLflow's slow inference):
    ``model``'s library and a kind's ``extra`` distributions beside the base ones."""
    names = [*BASE_REQUIREMENTS, type(model).__module__.split(".")[0].replace("sklearn", "scikit-learn"), *extra]
    pins = []
    for name in dict.fromkeys(names):
        try:
            pins.append(f"{name}=={importlib_metadata.version(name)}")
        except importlib_metadata.PackageNotFoundError:
            continue  # e.g. a model class defined in mmp itself
    return pins


# What defines a model: the recipe and the code. A commit touching only docs or dvc.lock must
# not change the package (a fresh clone then reproduces the committed dvc.lock exactly).
DEFINITION = ("params.yaml", "dvc.yaml", "conf", "src")


def created_at(repo: Path) -> datetime:
    """SOURCE_DATE_EPOCH when set, else the time of the last commit that changed the pipeline's
    definition (recipe or code): reproducible, never 'now'."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch is None:
        try:
            cmd = ["git", "log", "-1", "--format=%ct", "--", *DEFINITION]
            epoch = subprocess.run(cmd, cwd=repo, capture_output=True, text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            epoch = "0"
    return datetime.fromtimestamp(int(epoch or 0), tz=UTC).replace(tzinfo=None)


def content_uuid(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:32]


@contextlib.contextmanager
def _quiet(logger_name: str) -> Iterator[None]:
    """Silence a library's INFO/WARNING chatter for one call (errors still show)."""
    logger = logging.getLogger(logger_name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def save_package(out: Path, artifacts: dict[str, Path], created: datetime) -> None:
    """Save the pyfunc directory at ``out``. Artifacts are staged under fixed relative names
    because MLflow records each artifact's source path in MLmodel: a temp path there would make
    the package differ run to run (and leak a local path)."""
    quiet_mlflow()  # no bars in stage logs
    out = out.resolve()
    artifacts = {name: path.resolve() for name, path in artifacts.items()}
    with tempfile.TemporaryDirectory() as staging, contextlib.chdir(staging):
        staged = {name: f"{name}{path.suffix}" for name, path in artifacts.items()}
        for name, path in artifacts.items():
            shutil.copyfile(path, staged[name])
        wrapper = load_artifacts(staged)
        example = example_frame(wrapper.schema)
        with warnings.catch_warnings(), _quiet("mlflow"), _no_mismatch_check():
            warnings.simplefilter("ignore")  # MLflow's int-column hint and cloudpickle notice
            outputs = mlflow.models.infer_signature(example, wrapper.predict(example)).outputs
            mlflow.pyfunc.save_model(
                path=str(out),
                python_model=TabularModel(),
                artifacts=staged,
                signature=ModelSignature(inputs=input_signature(wrapper.schema), outputs=outputs),
                input_example=example,
                # the fitted estimator's library where the kind has one (the tabular kind's
                # ``model``), and the distributions a kind names (``requirements``)
                pip_requirements=pip_requirements(getattr(wrapper, "model", None), tuple(getattr(wrapper, "requirements", ()))),
                mlflow_model=Model(utc_time_created=created, model_uuid=content_uuid(list(artifacts.values()))),
                metadata=mlmodel_metadata(wrapper),
            )


@contextlib.contextmanager
def _no_mismatch_check() -> Iterator[None]:
    """MLflow checks each pip requirement against the running environment, mapping every
    installed distribution's files to modules on the way (about 1 s per save). Ours are pinned
    from that same environment (``pip_requirements``), so the check can never warn."""
    import mlflow.utils.environment as environment

    check = environment.warn_dependency_requirement_mismatches
    environment.warn_dependency_requirement_mismatches = lambda model_requirements: None
    try:
        yield
    finally:
        environment.warn_dependency_requirement_mismatches = check


def mlmodel_metadata(wrapper: ModelWrapper) -> dict[str, Any]:
    """What MLmodel's ``metadata`` tells a registry browser: the kind (as metadata.json names it),
    the task and, where the kind has them, the model class and the threshold."""
    kept = {k: v for k, v in wrapper.metadata.items() if k in ("model_class", "threshold")}
    return {"kind": package_kind(wrapper.metadata), "task_type": wrapper.schema.task_type, **kept}
