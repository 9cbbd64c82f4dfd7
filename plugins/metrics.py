"""An example metric for ``evaluate.extra_metrics`` (README "Extending"): a function
``(y_true, y_pred, y_score) -> float``, recorded under its name. ``y_score`` is the positive
class's probability for a binary task."""

from __future__ import annotations

from typing import Any

import numpy as np


def profit_at_k(y_true: Any, y_pred: Any, y_score: Any, k: float = 0.1) -> float:
    """Share of real positives among the ``k`` highest-scored rows: what a team that can act on
    only the top tenth of its list gets right."""
    top = np.argsort(-np.asarray(y_score, dtype=float), kind="stable")[: max(1, int(len(y_score) * k))]
    return float(np.mean(np.asarray(y_true)[top] == 1))


profit_at_k.greater_is_better = True  # type: ignore[attr-defined]  # the default; a loss says False
