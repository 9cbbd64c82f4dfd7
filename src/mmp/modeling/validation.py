"""Recipe validation without training: every problem at once, each naming the key and the fix.

``config_problems`` checks the composed recipe (keys, types, search ranges, class paths,
hyperparameter names at every depth, estimator/task match); ``data_problems`` checks a loaded
source against the recipe (target and declared columns, the data contract, feature columns).
``mmp validate`` runs both; each stage runs the part it depends on before doing any work.
Pure functions: they take parsed values and frames, never read files.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from mmp.core.config import DataConfig, FeaturesConfig, ModelConfig, Params, parse
from mmp.core.errors import MMPError, MMPErrors, raise_all

SECTIONS = {"data": DataConfig, "features": FeaturesConfig, "model": ModelConfig}


def flatten(err: MMPError) -> list[MMPError]:
    return list(err.errors) if isinstance(err, MMPErrors) else [err]


def collect(fn: Any, *args: Any, **kwargs: Any) -> tuple[Any, list[MMPError]]:
    """Call ``fn``; return its result and the user errors it raised (all of them)."""
    try:
        return fn(*args, **kwargs), []
    except MMPError as err:
        return None, flatten(err)


def config_problems(raw: Mapping[str, Any], sections: tuple[str, ...] = ("data", "features", "model")) -> list[MMPError]:
    """Every problem in the composed recipe ``raw`` (the content of params.yaml)."""
    return _config_problems(raw, sections)[1]


def parsed_sections(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The sections of ``raw`` that parse on their own (None for those that do not)."""
    return {name: collect(parse, model, raw.get(name), name)[0] for name, model in SECTIONS.items()}


def _config_problems(raw: Mapping[str, Any], sections: tuple[str, ...]) -> tuple[dict[str, Any], list[MMPError]]:
    params, errors = collect(parse, Params, dict(raw))
    # Whole-recipe parsing stops at the first broken section; check the sections that do parse
    # on their own so the model recipe is still checked when `data` is broken.
    checked = parsed_sections(raw) if params is None else {"data": params.data, "features": params.features, "model": params.model}
    if checked.get("data"):
        errors += data_config_problems(checked["data"])
        errors += tune_metric_problems(raw.get("tune"), checked["data"].task_type)
    if "features" in sections and checked.get("features") and checked.get("data"):
        errors += feature_config_problems(checked["features"], checked["data"])
    if "model" in sections and checked.get("model"):
        task = checked["data"].task_type if checked.get("data") else None
        errors += model_problems(checked["model"], task, int(raw.get("seed", 42)) if isinstance(raw.get("seed"), int) else 42)
    return checked, _unique(errors)


def tune_metric_problems(tune: Any, task: str) -> list[MMPError]:
    """The tuning metric must be one the task's evaluation produces (the tune stage's own rule)."""
    from mmp.core.config import TuneConfig
    from mmp.tuning.search import resolve_objective

    metric = tune.get("metric") if isinstance(tune, Mapping) else None
    if metric is None:
        return []
    try:
        resolve_objective(TuneConfig(metric=metric), task)
    except MMPError as err:
        return [err]
    return []


def feature_config_problems(features: FeaturesConfig, data: DataConfig) -> list[MMPError]:
    """Feature settings that cannot work with this data configuration."""
    errors = []
    leaked = sorted(set(data.non_feature_cols) & set(features.explicit_columns()))
    if leaked:
        errors.append(MMPError("features", f"{leaked} are id, time or target columns and must not be listed as features", "remove them from features.*.columns"))
    if features.categorical.encode == "target" and len(data.targets) > 1:
        errors.append(MMPError("features.categorical.encode", "target encoding needs a single target column", "onehot or ordinal for multi-output targets"))
    if features.selection.method != "none" and len(data.targets) > 1:
        errors.append(MMPError("features.selection.method", "feature selection needs a single target column", "none for multi-output targets"))
    return errors


def data_config_problems(data: DataConfig) -> list[MMPError]:
    from mmp.data.sql import check_identifiers

    errors = collect(check_identifiers, data.identifiers, data.allowed_identifiers)[1]
    if data.task_type != "regression" and len(data.targets) > 1:
        errors.append(MMPError("data.target_col", f"a list of targets is multi-output regression but data.task_type is {data.task_type}", "regression, or a single target column"))
    return errors


def model_problems(spec: ModelConfig, task: str | None, seed: int = 42) -> list[MMPError]:
    """Class paths, search ranges and hyperparameter names at every depth; then the estimator
    is built (not fitted) to check the constructor and that it suits ``task``."""
    from mmp.modeling.recipe import build_estimator, check_task

    errors = recipe_problems(spec.model_dump(), "model")
    if errors:
        return errors
    estimator, errors = collect(build_estimator, spec, seed)
    if estimator is not None and task is not None:
        errors += collect(check_task, estimator, task)[1]
    return errors


def recipe_problems(recipe: Mapping[str, Any], key: str) -> list[MMPError]:
    """Walk a (possibly nested) recipe and report every problem, not just the first."""
    from mmp.modeling.recipe import SearchRange, Site, check_hyperparameters, import_class, recipe_part, walk

    spec, errors = collect(parse, ModelConfig, recipe_part(recipe), key)
    if spec is None:
        return errors
    cls, errors = collect(import_class, spec.class_path, f"{key}.class_path")
    if cls is not None:
        errors += collect(check_hyperparameters, cls, list(spec.hyperparameters), f"{key}.hyperparameters")[1]
    walk(
        spec.hyperparameters,
        Site(key, "").nested(),
        on_range=lambda at, raw: errors.extend(collect(parse, SearchRange, dict(raw), at.key)[1]),
        on_recipe=lambda at, raw: errors.extend(recipe_problems(raw, at.key)),
    )
    return errors


def data_problems(frame: pd.DataFrame, cfg: DataConfig, features: FeaturesConfig | None = None) -> list[MMPError]:
    """The loaded source against the recipe: target, id and time columns, the data contract,
    the classes a stratified split needs, and (given ``features``) the listed feature columns."""
    from mmp.data.contract import check_contract, coerce_dates, require_columns
    from mmp.modeling.features import select_columns

    _, errors = collect(require_columns, frame, cfg)
    if errors:
        return errors  # the contract and features cannot be checked without the target
    frame, errors = collect(coerce_dates, frame, cfg.contract)
    if frame is None:
        return errors
    errors += collect(check_contract, frame, cfg.contract, cfg.targets)[1]
    if cfg.task_type != "regression":
        counts = frame[cfg.targets[0]].value_counts()
        if len(counts) < 2:
            errors.append(MMPError("data.target_col", f"column {cfg.targets[0]!r} has a single class; classification needs at least 2", "regression for a numeric target"))
        elif cfg.task_type == "binary" and len(counts) > 2:
            errors.append(MMPError("data.task_type", f"binary, but column {cfg.targets[0]!r} has {len(counts)} classes", "multiclass"))
    elif any(not pd.api.types.is_numeric_dtype(frame[t]) for t in cfg.targets):
        errors.append(MMPError("data.task_type", "regression needs numeric target column(s)", "binary or multiclass for a categorical target"))
    if features is not None:
        errors += collect(select_columns, frame, features, cfg.non_feature_cols)[1]
    return errors


def validate(raw: Mapping[str, Any], frame: pd.DataFrame | None = None, sections: tuple[str, ...] = ("data", "features", "model")) -> Params:
    """Raise every config problem (and, given ``frame``, every data problem) at once."""
    errors = config_problems(raw, sections)
    raise_all(errors)
    params = parse(Params, dict(raw))
    if frame is not None:
        raise_all(data_problems(frame, params.data, params.features if "features" in sections else None))
    return params


def _unique(errors: list[MMPError]) -> list[MMPError]:
    seen, out = set(), []
    for e in errors:
        if str(e) not in seen:
            seen.add(str(e))
            out.append(e)
    return out
