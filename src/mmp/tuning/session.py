"""The edge shared by the tune stage and ``mmp tune-worker``: check the recipe, read the train
split, cut the folds, open the storage and the study. Everything a user can get wrong is
reported here, before any trial runs and before the storage is touched."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from mmp.core.config import Direction, ModelConfig, Params
from mmp.core.errors import MMPError, collect, raise_all
from mmp.core.settings import TuneSettings
from mmp.core.target import target
from mmp.modeling.metrics import ExtraMetric, load_extra_metrics
from mmp.modeling.recipe import build_estimator, check_task
from mmp.tuning.cv import make_folds, resolve_strategy
from mmp.tuning.families import check_families, family_site, read_families
from mmp.tuning.objective import Objective, Problem
from mmp.tuning.search import make_pruner, make_sampler, open_study, resolve_objective, study_name
from mmp.tuning.space import search_space
from mmp.tuning.storage import open_storage, scrub


@dataclass(frozen=True)
class Session:
    study: Any
    objective: Objective
    metric: str
    storage: TuneSettings
    families: dict[str, ModelConfig] = field(default_factory=dict)  # AutoML: the recipes chosen between


def candidate_recipes(params: Params) -> dict[str, ModelConfig]:
    """The checked recipes the study searches: the families of ``tune.families`` (read from
    conf/model), or none (the study searches ``model``)."""
    if not params.tune.families:
        search_space(params.model)
        check_task(build_estimator(params.model, params.seed), params.data.task_type)
        return {}
    families = read_families(params.tune.families)
    raise_all([e for name, spec in families.items() for e in collect(search_space, spec, family_site(name), False)[1]])
    check_families(families, params.data.task_type, params.seed)
    return families


def tuned_metric(params: Params) -> tuple[str, Direction, ExtraMetric | None]:
    """The tuned metric, its direction and, when it is one of evaluate.extra_metrics, the
    user's function that computes it."""
    extra = load_extra_metrics(params.evaluate.extra_metrics, params.data.task_type)
    metric, direction = resolve_objective(params.tune, params.data.task_type, extra)
    return metric, direction, next((m for m in extra if m.name == metric), None)


def prepare_problem(params: Params, features: Path, prepared: Path) -> tuple[Problem, str]:
    """The checked search problem on the train split, and a digest of the data it reads."""
    candidate_recipes(params)
    metric, direction, extra = tuned_metric(params)
    train_file = Path(features) / "train.parquet"
    if not train_file.exists():
        raise MMPError(str(train_file), "train features not found", "run `dvc exp run` (or `dvc pull`) first")
    train = pd.read_parquet(train_file)
    targets = params.data.targets
    strategy = resolve_strategy(params.tune.cv.strategy, params.data.task_type, params.data.time_col, len(targets))
    digest = hashlib.sha256(train_file.read_bytes())
    times = None
    if strategy == "timeseries":
        time_col = params.data.time_col
        if not time_col:  # resolve_strategy picks timeseries only when there is a time column
            raise MMPError("tune.cv.strategy", "timeseries needs data.time_col to order the rows", "kfold, stratified, auto")
        times = read_times(Path(prepared) / "train.parquet", time_col, len(train))
        digest.update(pd.util.hash_pandas_object(times, index=False).to_numpy().tobytes())
    y = target(train, targets)
    folds = make_folds(y, strategy, params.tune.cv.folds, params.seed, times)
    problem = Problem(
        train.drop(columns=targets),
        y,
        params.data.task_type,
        folds,
        metric,
        direction == "maximize",
        params.evaluate.fixed_threshold,
        extra,
    )
    return problem, digest.hexdigest()


def read_times(path: Path, time_col: str, n_rows: int) -> pd.Series:
    """The time column of the prepared train split, row-aligned with the train features."""
    if not path.exists():
        raise MMPError(str(path), "prepared train split not found (a time-series split needs its time column)", "run `dvc exp run` first")
    times = pd.read_parquet(path, columns=[time_col])[time_col]
    if len(times) != n_rows:
        raise MMPError(str(path), f"has {len(times)} rows but the train features have {n_rows}", "re-run prepare and featurize")
    return times


def study_recipe(params: Params) -> dict[str, Any]:
    """What defines a study: everything that changes a trial or the search, not ``n_jobs``
    (how many trials run at once) nor ``enabled``."""
    recipe = {
        "seed": params.seed,
        "data": params.data.model_dump(include={"target_col", "task_type", "time_col"}),
        "threshold": params.evaluate.fixed_threshold,
        "model": params.model.model_dump(),
        "tune": params.tune.model_dump(exclude={"n_jobs", "enabled", "families"}),
    }
    tuned = [path for path in params.evaluate.extra_metrics if path.rpartition(":")[2] == params.tune.metric]
    if tuned:  # a user's metric is tuned: its import path is part of the search
        recipe["extra_metric"] = tuned[0]
    if params.tune.families:  # AutoML: the families' recipes, as read from conf/model now
        recipe["families"] = {name: spec.model_dump() for name, spec in read_families(params.tune.families).items()}
    return recipe


def open_session(params: Params, features: Path, prepared: Path, storage: TuneSettings, sampler_seed: int | None = None) -> Session:
    """Check everything, then create (or join) the study named after the recipe and data."""
    import optuna

    problem, digest = prepare_problem(params, features, prepared)
    families = read_families(params.tune.families) if params.tune.families else {}
    metric = problem.metric
    direction: Direction = "maximize" if problem.maximize else "minimize"
    optuna.logging.set_verbosity(logging.WARNING)  # the progress bar reports trials
    sampler = make_sampler(params.tune.sampler, params.seed if sampler_seed is None else sampler_seed)
    name = study_name("automl" if families else params.model.class_path, study_recipe(params), digest)
    from sqlalchemy.exc import SQLAlchemyError

    try:
        study = open_study(open_storage(storage), name, direction, sampler, make_pruner(params.tune.pruner))
    except SQLAlchemyError as err:
        raise MMPError(
            "tune.storage", f"cannot open study {name} in {storage.label}: {scrub(err, storage.url)}", "a reachable SQLAlchemy URL"
        ) from None
    return Session(study, Objective(params.model, params.seed, problem, families), metric, storage, families)
