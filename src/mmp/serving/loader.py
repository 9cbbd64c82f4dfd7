"""Where the served (or batch-scored) model comes from, and loading it once.

A model source is one of: a local pyfunc directory (``models/package``), a registry URI
(``models:/name@alias`` or ``models:/name/3``), a run URI (``runs:/<run_id>/model``) or a bare run
id. With no ``--model``, the environment decides: ``MMP_MODEL`` (any of the above), else
``MLFLOW_MODEL_NAME`` with ``MLFLOW_MODEL_ALIAS`` (or ``MLFLOW_MODEL_STAGE`` mapped to an alias).
Remote models are downloaded once with ``mlflow.artifacts.download_artifacts``, into a temp
directory that lives as long as the ``with fetched(...)`` / ``with resolved(...)`` block.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import cast

import yaml

from mmp.core.errors import MMPError
from mmp.core.tracking import download_model, prepare_tracking
from mmp.inference.scorer import Scorer
from mmp.inference.wrapper import load_wrapper

RUN_ID = re.compile(r"^[0-9a-f]{32}$")
# Registry stages are deprecated in MLflow; a stage name still given is read as this alias.
STAGE_ALIASES = {"production": "champion", "staging": "challenger"}
SOURCES = "a models/package directory, models:/name@alias, models:/name/version, runs:/<run_id>/model or a run id"
RESOLVED_ENV = "MMP_RESOLVED_MODEL"  # set by `mmp serve` for its workers: the model already fetched


@dataclass(frozen=True)
class ModelRef:
    """A model fetched to a local pyfunc directory, with the identity the API reports."""

    source: str
    path: str
    name: str
    version: str
    gate: dict[str, str] | str = "unknown"

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls, value: str) -> ModelRef:
        return cls(**json.loads(value))


def model_spec(given: str | None, env: Mapping[str, str]) -> str:
    """The model source from ``--model``, else from the environment variables."""
    if given:
        return given
    if env.get("MMP_MODEL"):
        return env["MMP_MODEL"]
    name = env.get("MLFLOW_MODEL_NAME")
    if not name:
        raise MMPError("model", "no model given", f"--model or MMP_MODEL ({SOURCES}), or MLFLOW_MODEL_NAME with MLFLOW_MODEL_ALIAS")
    alias = env.get("MLFLOW_MODEL_ALIAS") or stage_alias(env.get("MLFLOW_MODEL_STAGE"))
    if not alias:
        raise MMPError("MLFLOW_MODEL_NAME", "is set but neither MLFLOW_MODEL_ALIAS nor MLFLOW_MODEL_STAGE is", "an alias such as champion")
    return f"models:/{name}@{alias}"


def stage_alias(stage: str | None) -> str | None:
    if not stage:
        return None
    return STAGE_ALIASES.get(stage.lower(), stage.lower())


@contextlib.contextmanager
def fetched(spec: str, tracking_uri: str | None = None, flag: str = "--model") -> Iterator[ModelRef]:
    """``spec`` as a local pyfunc directory for the duration of the block. A remote model is
    downloaded into a temp directory that the block removes (on errors too): a loaded Scorer
    holds everything in memory, and serving workers load theirs before the block ends."""
    local = Path(spec)
    if local.is_dir():
        if not (local / "MLmodel").is_file():
            raise MMPError(flag, f"{spec} is a directory without an MLmodel file", SOURCES)
        yield ModelRef(source=spec, path=str(local.resolve()), name=local.resolve().name, version=_model_uuid(local))
        return
    if RUN_ID.match(spec):
        spec = f"runs:/{spec}/model"
    if not spec.startswith(("models:/", "runs:/")):
        raise MMPError(flag, f"{spec!r} is neither an existing directory nor a model URI", SOURCES)
    with tempfile.TemporaryDirectory(prefix="mmp-model-") as tmp:
        yield _fetch_remote(spec, tracking_uri, tmp, flag)


def _fetch_remote(uri: str, tracking_uri: str | None, dst: str, flag: str = "--model") -> ModelRef:
    if tracking_uri:
        prepare_tracking(tracking_uri)  # a dead server: one line in seconds, not minutes of retries
    from mlflow.exceptions import MlflowException

    try:
        path, mv = download_model(uri, tracking_uri, dst)
    except (MlflowException, OSError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise MMPError(flag, f"cannot fetch {uri}: {first}", SOURCES) from None
    if not (Path(path) / "MLmodel").is_file():
        raise MMPError(flag, f"{uri} holds no MLmodel file (not an MLflow model)", SOURCES)
    name, version, gate = _run_identity(uri) if mv is None else (mv.name, str(mv.version), gate_from_tags(mv.tags or {}))
    return ModelRef(source=uri, path=path, name=name, version=version, gate=gate)


def _run_identity(uri: str) -> tuple[str, str, str]:
    run_id = uri.removeprefix("runs:/").split("/", 1)[0]
    return f"run-{run_id}", run_id, "unknown"


def gate_from_tags(tags: Mapping[str, str]) -> dict[str, str] | str:
    """The quality-gate result recorded on a model version (tags whose name mentions the gate),
    or ``"unknown"`` when the version carries none."""
    gate = {k: v for k, v in tags.items() if "gate" in k.lower()}
    return gate or "unknown"


def _model_uuid(path: Path) -> str:
    """A local package's version: MLflow's content-derived model_uuid from MLmodel."""
    meta = yaml.safe_load((path / "MLmodel").read_text()) or {}
    return str(meta.get("model_uuid") or "local")


def load_scorer(ref: ModelRef) -> Scorer:
    """The fetched model, whatever its kind (errors name the source the user gave). Typed as the
    tabular Scorer until serving is typed on ModelWrapper: serving calls only what the
    contract has, so every kind serves."""
    return cast(Scorer, load_wrapper(ref.path, source=ref.source))


@contextlib.contextmanager
def resolved(given: str | None, env: Mapping[str, str] | None = None) -> Iterator[ModelRef]:
    """The model to serve, for the duration of the block: one already fetched by the parent
    process (which owns its directory), else fetched now (see :func:`fetched`)."""
    env = os.environ if env is None else env
    if not given and env.get(RESOLVED_ENV):
        yield ModelRef.from_env(env[RESOLVED_ENV])
        return
    with fetched_spec(model_spec(given, env), env) as ref:
        yield ref


@contextlib.contextmanager
def fetched_spec(spec: str, env: Mapping[str, str], flag: str = "--model") -> Iterator[ModelRef]:
    """:func:`fetched` with the tracking server of ``env`` (else conf/env) for a remote model."""
    tracking_uri = None if Path(spec).is_dir() else registry_tracking_uri(env)
    with fetched(spec, tracking_uri, flag) as ref:
        yield ref


def registry_tracking_uri(env: Mapping[str, str]) -> str:
    """The tracking server (and registry) remote models come from: ``MLFLOW_TRACKING_URI`` of
    ``env`` (a test's or the parent process's own mapping wins over conf/env), else conf/env."""
    from mmp.core.settings import load_settings

    return env.get("MLFLOW_TRACKING_URI") or load_settings().mlflow.tracking_uri
