"""The tuning check: the tuning metric must be one the task's evaluation produces (the rule the
tune stage itself applies when it resolves its objective)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mmp.core.config import TaskType, TuneConfig
from mmp.core.errors import MMPError, collect
from mmp.tuning.search import resolve_objective


def tune_metric_problems(tune: Any, task: TaskType) -> list[MMPError]:
    """``tune`` is the raw section: the metric is checked even when the rest does not parse."""
    metric = tune.get("metric") if isinstance(tune, Mapping) else None
    if metric is None:
        return []
    return collect(resolve_objective, TuneConfig(metric=metric), task)[1]
