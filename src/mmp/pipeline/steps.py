"""The pipeline's steps on typed objects: frames, the parsed recipe, the input schema and fitted
objects in; small typed results out. No argv, no files, no dvclive: the stage modules in
``mmp.pipeline.stages`` read inputs, call a step and write its result, and the serving
fixtures, the benchmarks and the notebook call the same steps in memory.

prepare -> featurize -> train -> evaluate -> package. Plots go to a logger passed in
(dvclive's ``Live`` in the stages); ``None`` drops them.
"""

from __future__ import annotations

import io
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import joblib
import pandas as pd

from mmp.core.config import DataConfig, Params, task_kind
from mmp.core.errors import raise_all
from mmp.core.io import write_json
from mmp.data.schema import InputSchema

if TYPE_CHECKING:
    from mmp.inference.model_card import DataFile
    from mmp.pipeline.evaluation import PlotLogger


@dataclass(frozen=True)
class Prepared:
    train: pd.DataFrame
    test: pd.DataFrame
    schema: InputSchema
    stats: dict[str, Any]  # metrics/data.json: row counts, class balance
    profile: dict[str, Any]  # metrics/data_profile.json: per-column missing rates


@dataclass(frozen=True)
class Featurized:
    """The fitted featurizer and the feature matrices, each with its target column(s) joined."""

    featurizer: Any
    train: pd.DataFrame
    test: pd.DataFrame


def prepare(frame: pd.DataFrame, data: DataConfig, seed: int) -> Prepared:
    """Check the loaded source against the recipe (every problem at once), then split it."""
    from mmp.data.checks import data_problems
    from mmp.data.contract import coerce_dates
    from mmp.data.schema import infer_schema
    from mmp.data.split import data_profile, data_stats, split

    raise_all(data_problems(frame, data))
    frame = coerce_dates(frame, data.contract)
    train, test = split(frame, data.targets, data.task_type, data.test_size, seed)
    stats = data_stats(train, test, data.targets, data.task_type)
    return Prepared(train, test, infer_schema(train, data), stats, data_profile(train, test))


def featurize(train: pd.DataFrame, test: pd.DataFrame, params: Params) -> Featurized:
    """Fit the preprocessing on the train split only and transform both splits."""
    from mmp.data.target import target
    from mmp.modeling.features import build_featurizer, fit_transform, select_columns, transform

    targets = params.data.targets
    columns = select_columns(train, params.features, params.data.non_feature_cols)
    featurizer = build_featurizer(params.features, columns, params.data.task_type, params.seed)
    X_train = fit_transform(featurizer, train, target(train, targets))
    return Featurized(featurizer, X_train.join(train[targets]), transform(featurizer, test).join(test[targets]))


def train(features: pd.DataFrame, params: Params, best_params: dict[str, Any] | None = None, logger: Any | None = None) -> Any:
    """Build the estimator from the model recipe, with ``best_params`` (the tune step's values)
    for its search ranges and their defaults otherwise, and fit it. ``logger`` (dvclive) gets
    the training curve where the model iterates."""
    from mmp.data.target import target
    from mmp.modeling.recipe import build_estimator, check_task, find_ranges
    from mmp.modeling.training import fit_model
    from mmp.tuning.space import tuned_chooser

    chooser = tuned_chooser(best_params or {}, find_ranges(params.model.hyperparameters))
    estimator = build_estimator(params.model, params.seed, chooser)
    check_task(estimator, params.data.task_type)
    targets = params.data.targets
    fit_model(estimator, features.drop(columns=targets), target(features, targets), logger)
    return estimator


def evaluate(
    features: pd.DataFrame, model: Any, params: Params, logger: PlotLogger | None = None, featurizer: Any = None
) -> dict[str, Any]:
    """Score the test feature matrix; the task's plots and the feature importance go to ``logger``,
    and with the fitted ``featurizer`` the global explanation by raw column too."""
    from mmp.data.target import target
    from mmp.modeling.metrics import feature_importance
    from mmp.pipeline.evaluation import NoPlots, evaluate_classification, evaluate_regression

    logger = logger or NoPlots()
    targets = params.data.targets
    X, y = features.drop(columns=targets), target(features, targets)
    if task_kind(params.data.task_type) == "regression":
        scores = evaluate_regression(logger, model, X, y)
    else:
        scores = evaluate_classification(logger, model, X, y, params.evaluate.threshold)
    importance = feature_importance(model, X, y, params.seed, params.evaluate.importance_top_k)
    logger.log_plot("importance", importance, x="importance", y="feature", template="bar_horizontal_sorted", title="Feature importance")
    if featurizer is not None and len(params.data.targets) == 1:  # a multi-output model has no one raw score to explain
        from mmp.pipeline.explanation import explain_globally

        explain_globally(logger, model, featurizer, X, params.seed)
    return scores


def stored(fitted: Any) -> bytes:
    """A fitted object as joblib bytes. Bytes pass through unchanged: the package stage hands in
    the files DVC tracks, because pickling a loaded object again is not byte-identical."""
    if isinstance(fitted, bytes):
        return fitted
    buffer = io.BytesIO()
    joblib.dump(fitted, buffer)
    return buffer.getvalue()


def package(
    out: Path,
    featurizer: Any,
    model: Any,
    schema: InputSchema,
    metrics: dict[str, Any],
    params: Params,
    created: datetime,
    data: list[DataFile] | None = None,
) -> None:
    """Write the MLflow pyfunc directory at ``out`` (featurizer + model + schema + metadata +
    signature + input example + MODEL_CARD.md): it takes raw rows and returns predictions.
    ``featurizer`` and ``model`` are fitted objects or their joblib bytes (see :func:`stored`);
    ``data`` lists the train/test files the card names."""
    from mmp.inference.model_card import render_card
    from mmp.inference.pyfunc import save_package  # mlflow is heavy: import only here
    from mmp.modeling.gate import evaluate_gate

    key, gate = params.evaluate.gate_for(params.data.task_type)
    card = render_card(params, metrics, evaluate_gate(gate, metrics, None, key), data or [], schema)
    with tempfile.TemporaryDirectory() as scratch:
        files = {
            name: Path(scratch) / f"{name}.{ext}"
            for name, ext in (("featurizer", "joblib"), ("model", "joblib"), ("schema", "json"), ("metadata", "json"))
        }
        files["featurizer"].write_bytes(stored(featurizer))
        files["model"].write_bytes(stored(model))
        write_json(files["schema"], schema.to_json())
        write_json(files["metadata"], {"model_class": params.model.class_path, "threshold": params.evaluate.threshold, "metrics": metrics})
        save_package(out, files, created)
    (out / "MODEL_CARD.md").write_text(card)
