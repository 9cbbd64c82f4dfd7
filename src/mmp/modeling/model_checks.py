"""The model checks: class paths, search ranges and hyperparameter names at every depth of a
(possibly nested) recipe; then the estimator is built (not fitted) to check its constructor and
that it suits the task. Pure functions that return every problem at once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mmp.core.config import ModelConfig, TaskType, parse
from mmp.core.errors import MMPError, collect
from mmp.modeling.recipe import SearchRange, Site, build_estimator, check_hyperparameters, check_task, import_class, recipe_part, walk


def model_problems(spec: ModelConfig, task: TaskType | None, seed: int = 42) -> list[MMPError]:
    errors = recipe_problems(spec.model_dump(), "model")
    if errors:
        return errors
    estimator, errors = collect(build_estimator, spec, seed)
    if estimator is not None and task is not None:
        errors += collect(check_task, estimator, task)[1]
    return errors


def recipe_problems(recipe: Mapping[str, Any], key: str) -> list[MMPError]:
    """Walk a (possibly nested) recipe and report every problem, not just the first."""
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
