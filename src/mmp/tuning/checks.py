"""The tuning checks: the tuning metric must be one the task's evaluation produces (the rule the
tune stage itself applies when it resolves its objective, with the user's own metrics of
evaluate.extra_metrics), and every AutoML family must exist and suit the task."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mmp.core.config import TaskType, TuneConfig, task_kind
from mmp.core.errors import MMPError, collect
from mmp.tuning.search import resolve_objective


def tune_metric_problems(tune: Any, task: TaskType, extra_metrics: Any = None) -> list[MMPError]:
    """``tune`` is the raw section and ``extra_metrics`` the raw evaluate.extra_metrics: the
    metric is checked even when the rest does not parse; an uplift task refuses tuning when it
    is enabled."""
    paths = [p for p in extra_metrics if isinstance(p, str)] if isinstance(extra_metrics, list) else []
    extra: list[Any] | None = []
    errors: list[MMPError] = []
    if paths:
        from mmp.modeling.metrics import load_extra_metrics

        extra, errors = collect(load_extra_metrics, paths, task)
    raw = tune if isinstance(tune, Mapping) else {}
    metric = raw.get("metric")
    if metric is None and not (raw.get("enabled") is True and task_kind(task) == "uplift"):
        return errors
    return errors + collect(resolve_objective, TuneConfig(metric=metric), task, extra or [])[1]


def family_problems(tune: Any, task: TaskType, seed: int) -> list[MMPError]:
    """Each of tune.families must name a recipe in conf/model that builds and fits the task."""
    families = tune.get("families") if isinstance(tune, Mapping) else None
    if not families or not isinstance(families, list):
        return []
    from mmp.tuning.families import check_families, read_families

    recipes, errors = collect(read_families, [str(f) for f in families])
    return errors if recipes is None else collect(check_families, recipes, task, seed)[1]
