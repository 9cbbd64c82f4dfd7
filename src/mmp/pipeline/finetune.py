"""The base model of a fine-tune (``model.finetune.from``): a model package directory, or a registry
or run URI (``models:/name@champion``, ``models:/name/3``, ``runs:/<id>/model``) fetched from the
runtime tracking server (``MLFLOW_TRACKING_URI``, else conf/env). Only the package's fitted model
is read: a fine-tune keeps the recipe's own featurizer, and the model refuses other columns."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import joblib
import yaml

from mmp.core.errors import MMPError

KEY = "model.finetune.from"
SOURCES = "a model package directory (models/package), models:/name@alias, models:/name/version or runs:/<run_id>/model"


@contextlib.contextmanager
def base_model(source: str) -> Iterator[Any]:
    """The fitted model of the package ``source`` names, for the duration of the block."""
    if Path(source).is_dir():
        yield read_model(Path(source), source)
        return
    if not source.startswith(("models:/", "runs:/")):
        raise MMPError(KEY, f"{source!r} is neither an existing directory nor a model URI", SOURCES)
    with tempfile.TemporaryDirectory(prefix="mmp-finetune-") as tmp:
        yield read_model(download(source, tmp), source)


def download(uri: str, dst: str) -> Path:
    from mlflow.exceptions import MlflowException

    from mmp.core.settings import load_settings
    from mmp.core.tracking import download_model, prepare_tracking

    tracking_uri = load_settings().mlflow.tracking_uri  # MLFLOW_TRACKING_URI wins (conf/env)
    prepare_tracking(tracking_uri)
    try:
        return Path(download_model(uri, tracking_uri, dst)[0])
    except (MlflowException, OSError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise MMPError(KEY, f"cannot fetch {uri}: {first}", SOURCES) from None


def read_model(package: Path, source: str) -> Any:
    """The fitted model a package's MLmodel lists as its ``model`` artifact."""
    try:
        meta = yaml.safe_load((package / "MLmodel").read_text())
        return joblib.load(package / meta["flavors"]["python_function"]["artifacts"]["model"]["path"])
    except (KeyError, TypeError, OSError, ValueError, yaml.YAMLError) as err:
        raise MMPError(KEY, f"{source} is not an mmp model package ({type(err).__name__}: {err})", SOURCES) from None
