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
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import joblib
import pandas as pd

from mmp.core.config import DEFAULT_THRESHOLD, DataConfig, Params, TimeFeatures, task_kind
from mmp.core.errors import raise_all
from mmp.core.io import write_json
from mmp.data.schema import InputSchema

if TYPE_CHECKING:
    from mmp.inference.model_card import DataFile
    from mmp.modeling.training import Threads
    from mmp.pipeline.evaluation import PlotLogger

T = TypeVar("T")


@dataclass(frozen=True)
class Prepared:
    train: pd.DataFrame
    test: pd.DataFrame
    schema: InputSchema
    stats: dict[str, Any]  # metrics/data.json: row counts, class balance
    profile: dict[str, Any]  # metrics/data_profile.json: per-column missing rates and distinct counts
    quality: dict[str, Any]  # the data quality report (mmp.data.quality), drawn by pipeline.quality_report


@dataclass(frozen=True)
class Featurized:
    """The fitted featurizer and the feature matrices, each with its target column(s) joined."""

    featurizer: Any
    train: pd.DataFrame
    test: pd.DataFrame


def prepare(frame: pd.DataFrame, data: DataConfig, seed: int, time: TimeFeatures | None = None) -> Prepared:
    """Check the loaded source against the recipe (every problem at once), add the time
    features when ``time`` is on (before the split: a test row's history may hold earlier train
    rows, which is no look-ahead), then split it (by time when time features are on) and report
    its quality; leakage findings stop here under ``data.quality.fail_on_leakage``."""
    from mmp.data.checks import data_problems
    from mmp.data.contract import coerce_dates
    from mmp.data.split import by_time, split, time_split

    raise_all(data_problems(frame, data))
    frame = coerce_dates(frame, data.contract)
    if time is not None and time.enabled:
        from mmp.data.time_features import add_time_features

        assert data.time_col is not None  # Params requires it with time features
        frame = add_time_features(frame, time.entity_in(data), data.time_col, time)
    if by_time(data, time):
        assert data.time_col is not None  # DataConfig requires it for a time split
        train, test = time_split(frame, data.targets, data.task_type, data.test_size, data.time_col)
    else:
        train, test = split(frame, data.targets, data.task_type, data.test_size, seed)
    return described(train, test, data, time)


def described(train: pd.DataFrame, test: pd.DataFrame, data: DataConfig, time: TimeFeatures | None = None) -> Prepared:
    """The split with its quality report (leakage findings stop here), statistics and schema."""
    from mmp.data import quality
    from mmp.data.online import online_features
    from mmp.data.schema import infer_schema
    from mmp.data.split import data_stats

    report = quality.quality_report(train, test, data)
    raise_all(quality.errors(report))
    stats = data_stats(train, test, data.targets, data.task_type, data.treatment_col)
    schema = infer_schema(train, data, online_features(data, time))
    return Prepared(train, test, schema, stats, quality.data_profile(report), report)


def featurize(train: pd.DataFrame, test: pd.DataFrame, params: Params) -> Featurized:
    """Fit the preprocessing on the train split only and transform both splits. The label
    columns (target, and an uplift task's treatment and known effect) travel beside them."""
    from mmp.modeling.features import fit_features, transform

    featurizer, X_train = fit_features(train, params, compiled_transform)
    return Featurized(featurizer, X_train, transform(featurizer, test, compiled_transform).join(test[params.data.label_cols]))


def compiled_transform(featurizer: Any, frame: pd.DataFrame) -> Any:
    """The compiled featurizer's features of ``frame`` (mmp.inference.compiled: scikit-learn's
    values, about three times faster on a big split); None where it cannot compile the featurizer."""
    import numpy as np

    from mmp.inference.compiled import NotCompilable, compile_featurizer

    try:
        compiled = compile_featurizer(featurizer)
    except NotCompilable:
        return None
    # NumPy-backed columns as arrays, the others (Arrow text) as pandas holds them: looked up without a copy.
    return compiled.transform({c: s.to_numpy() if isinstance(s.dtype, np.dtype) else s.array for c, s in frame.items()})


def train(
    features: pd.DataFrame,
    params: Params,
    best_params: dict[str, Any] | None = None,
    logger: Any | None = None,
    loggers: Sequence[Any] = (),
    threads: Threads | None = None,
) -> Any:
    """Fit the model recipe on the train feature matrix (:func:`mmp.modeling.training.fit_recipe`,
    the tabular kind's one fitting rule), with ``best_params`` (the tune step's values) for its
    search ranges. ``logger`` (dvclive) gets the training curve where the model iterates; a
    Lightning model also logs to ``loggers``; ``model.finetune.from`` names the package whose
    weights a torch model warm-starts from. ``threads``: a LightGBM fit's (training.Threads)."""
    from mmp.modeling.training import fit_recipe

    source = params.model.finetune.source
    if source:
        from functools import partial

        from mmp.pipeline.finetune import base_model

        return fit_recipe(features, params, best_params, logger, partial(base_model, source), loggers)
    return fit_recipe(features, params, best_params, logger, loggers=loggers, threads=threads)


def recipe_estimator(params: Params, best_params: dict[str, Any] | None = None) -> Any:
    """The unfitted estimator of the model recipe, with the tune step's values for its ranges."""
    from mmp.modeling.recipe import recipe_estimator as build

    return build(params.model, params.data.task_type, params.seed, best_params)


# The share of the train split held out to choose the decision threshold: one fold of five.
THRESHOLD_FOLDS = 5


def decision_threshold(
    features: pd.DataFrame, params: Params, best_params: dict[str, Any] | None = None, threads: Threads | None = None
) -> dict[str, Any]:
    """A binary model's decision threshold (``evaluate.threshold``): the number given, or for
    ``f1`` the cut-off that maximises F1 on a stratified fifth of the train split, predicted by
    the same recipe fitted on the other four fifths (the test split is never read), with that
    fifth's F1 at the cut-off and at 0.5. ``{}`` for other tasks, which have no threshold.
    ``threads``: the fit's and its predictions' threads (LightGBM, training.Threads)."""
    from sklearn.metrics import f1_score

    from mmp.core.target import target
    from mmp.modeling.metrics import f1_threshold
    from mmp.tuning.cv import make_folds

    rule = params.evaluate.threshold
    if params.data.task_type != "binary":
        return {}
    if rule != "f1":
        return {"threshold": float(rule)}
    y = target(features, params.data.targets)
    fit_rows, valid_rows = make_folds(y, "stratified", THRESHOLD_FOLDS, params.seed)[0]
    model = train(features.iloc[fit_rows], params, best_params, threads=threads)
    valid = features.iloc[valid_rows]
    proba = model.predict_proba(valid.drop(columns=params.data.label_cols))[:, 1]
    is_positive = y.iloc[valid_rows].to_numpy() == model.classes_[1]
    threshold, f1 = f1_threshold(is_positive, proba)
    at_half = f1_score(is_positive, proba >= DEFAULT_THRESHOLD, zero_division=0)
    return {
        "threshold": threshold,
        "validation_f1": f1,
        "validation_f1_at_0.5": round(float(at_half), 6),
        "validation_rows": len(valid_rows),
    }


def train_with_threshold(
    features: pd.DataFrame,
    params: Params,
    best_params: dict[str, Any] | None = None,
    logger: Any | None = None,
    loggers: Sequence[Any] = (),
) -> tuple[Any, dict[str, Any]]:
    """:func:`train` and :func:`decision_threshold`. When the threshold needs a fit of its own and
    the recipe is LightGBM with ``n_jobs`` >= 2, the two fits run at once, each on half of those
    threads: LightGBM leaves the GIL while it boosts and gains only about 1.6x from a second
    thread on two cores, so two fits side by side finish sooner than one after the other (the
    train stage at 2M rows: 34.5-35.4 s against 37.1-37.2 s). LightGBM's thread count is process-wide, so
    every call of both fits uses that half until the model's last round: the training curve is
    summed the same way in every run. The trees are the same, byte for byte, as on the recipe's threads
    (fit_lightgbm); the curve's loss can differ from those in its last digits."""
    from mmp.modeling.training import Threads

    half = threads_beside(params, best_params)
    if half is None:
        return train(features, params, best_params, logger, loggers), decision_threshold(features, params, best_params)
    threshold = in_background(decision_threshold, features, params, best_params, Threads(half, as_recipe=False))
    model = train(features, params, best_params, logger, loggers, Threads(half))
    return model, threshold()


def threads_beside(params: Params, best_params: dict[str, Any] | None = None) -> int | None:
    """The threads of each fit when :func:`train_with_threshold` runs the threshold's fit beside
    the model's; else None."""
    from mmp.modeling.training import is_lightgbm

    if params.data.task_type != "binary" or params.evaluate.threshold != "f1" or params.model.finetune.source:
        return None
    estimator = recipe_estimator(params, best_params)
    n_jobs = getattr(estimator, "n_jobs", None)
    if not is_lightgbm(estimator) or not isinstance(n_jobs, int) or n_jobs < 2:
        return None
    return n_jobs // 2


def in_background(fn: Callable[..., T], *args: Any) -> Callable[[], T]:
    """Start ``fn(*args)`` on a daemon thread (a Ctrl-C in the main thread need not wait for it);
    the returned function waits for it and returns its result or raises its exception."""
    outcome: list[tuple[bool, Any]] = []

    def run() -> None:
        try:
            outcome.append((True, fn(*args)))
        except BaseException as error:  # handed to the caller, who raises it
            outcome.append((False, error))

    thread = threading.Thread(target=run, name=f"mmp-{getattr(fn, '__name__', 'job')}", daemon=True)
    thread.start()

    def result() -> T:
        thread.join()
        ok, value = outcome[0]
        if not ok:
            raise value
        return value

    return result


def evaluate(
    features: pd.DataFrame,
    model: Any,
    params: Params,
    logger: PlotLogger | None = None,
    featurizer: Any = None,
    threshold: float | None = None,
) -> dict[str, Any]:
    """Score the test feature matrix; the task's plots and the feature importance go to ``logger``,
    and with the fitted ``featurizer`` the global explanation by raw column too. A binary model's
    label metrics are at ``threshold`` (the train stage's :func:`decision_threshold`; else
    ``evaluate.threshold`` when a number, else 0.5), recorded as ``threshold``, with ``f1_at_0.5``
    beside them."""
    from mmp.core.target import target
    from mmp.modeling.metrics import feature_importance, load_extra_metrics
    from mmp.pipeline.evaluation import NoPlots, evaluate_classification, evaluate_regression, evaluate_uplift

    logger = logger or NoPlots()
    data = params.data
    X, y = features.drop(columns=data.label_cols), target(features, data.targets)
    extra = load_extra_metrics(params.evaluate.extra_metrics, data.task_type)
    if task_kind(data.task_type) == "uplift":
        assert data.treatment_col is not None  # DataConfig requires it for uplift
        known = features[data.effect_col] if data.effect_col else None
        scores = evaluate_uplift(logger, model, X, y, features[data.treatment_col], known)
    elif task_kind(data.task_type) == "regression":
        scores = evaluate_regression(logger, model, X, y, extra)
    else:
        cut = params.evaluate.fixed_threshold if threshold is None else threshold
        scores = evaluate_classification(logger, model, X, y, cut, extra)
    if task_kind(data.task_type) == "uplift" and not hasattr(model, "feature_importances_"):
        return scores  # permutation importance needs a score(X, y); an effect has no such score
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


def pretrained_encoder(model: Any, params: Params) -> Any:
    """The pre-trained encoder a TabTransformer started from (pre-trained now, or inherited from
    a fine-tune's base), or None; read only when the recipe pre-trains or fine-tunes."""
    if not (params.model.pretrain.enabled or params.model.finetune.source):
        return None
    fitted = joblib.load(io.BytesIO(model)) if isinstance(model, bytes) else model
    return getattr(fitted, "encoder_", None)


def package(
    out: Path,
    featurizer: Any,
    model: Any,
    schema: InputSchema,
    metrics: dict[str, Any],
    params: Params,
    created: datetime,
    data: list[DataFile] | None = None,
    train: pd.DataFrame | None = None,
    family: str | None = None,
) -> None:
    """Write the MLflow pyfunc directory at ``out`` (featurizer + model + schema + metadata +
    signature + input example + MODEL_CARD.md): it takes raw rows and returns predictions.
    ``featurizer`` and ``model`` are fitted objects or their joblib bytes (see :func:`stored`);
    ``data`` lists the train/test files the card names; ``family`` the AutoML family that
    tuning chose (``params.model`` is then that family's recipe). With the raw ``train`` split, a
    seeded sample of it and its predictions go in too (``reference.parquet``: drift's reference)."""
    from mmp.inference.model_card import render_card
    from mmp.inference.pyfunc import save_package  # mlflow is heavy: import only here
    from mmp.inference.scorer import Scorer, label_columns
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
        family_entry = {"model_family": family} if family else {}
        encoder = pretrained_encoder(model, params)
        if encoder is not None:  # its own artifact, named by its hash: README "Fine-tuning"
            files["encoder"] = Path(scratch) / "encoder.pt"
            files["encoder"].write_bytes(encoder.state)
            family_entry["encoder_sha256"] = encoder.sha256
        metadata = {
            "kind": Scorer.kind,
            "model_class": params.model.class_path,
            **family_entry,
            "threshold": params.evaluate.applied_threshold(metrics),
            "metrics": metrics,
            **label_columns(params.data),  # an uplift model's evaluate reads its treatment column
        }
        write_json(files["metadata"], metadata)
        save_package(out, files, created)
    (out / "MODEL_CARD.md").write_text(card)
    if train is not None:
        from mmp.inference.reference import write_reference

        write_reference(out, train, params.seed)
