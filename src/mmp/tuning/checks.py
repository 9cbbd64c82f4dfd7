"""The tuning check: the tuning metric must be one the task's evaluation produces (the rule the
tune stage itself applies when it resolves its objective)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mmp.core.config import TaskType, TuneConfig, task_kind
from mmp.core.errors import MMPError, collect
from mmp.tuning.search import resolve_objective


def tune_metric_problems(tune: Any, task: TaskType) -> list[MMPError]:
    """``tune`` is the raw section: the metric is checked even when the rest does not parse; an
    uplift task refuses tuning when it is enabled."""
    raw = tune if isinstance(tune, Mapping) else {}
    metric = raw.get("metric")
    if metric is None and not (raw.get("enabled") is True and task_kind(task) == "uplift"):
        return []
    return collect(resolve_objective, TuneConfig(metric=metric), task)[1]
