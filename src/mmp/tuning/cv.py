"""Cross-validation folds on the train split (the test split is never read while tuning)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mmp.core.config import TaskType, task_kind
from mmp.core.errors import MMPError

STRATEGIES = ("kfold", "stratified", "timeseries")


def resolve_strategy(strategy: str, task: TaskType, time_col: str | None, n_targets: int) -> str:
    """``auto`` picks a time-series split when the data has a time column, else stratified
    k-fold for classification, else k-fold. An explicit choice that cannot apply is an error."""
    stratifiable = task_kind(task) == "classification" and n_targets == 1
    if strategy == "auto":
        if time_col:
            return "timeseries"
        return "stratified" if stratifiable else "kfold"
    if strategy == "stratified" and not stratifiable:
        raise MMPError("tune.cv.strategy", "stratified needs a single classification target", "kfold, timeseries, auto")
    if strategy == "timeseries" and not time_col:
        raise MMPError("tune.cv.strategy", "timeseries needs data.time_col to order the rows", "kfold, stratified, auto")
    return strategy


def make_folds(
    y: pd.Series | pd.DataFrame, strategy: str, n_folds: int, seed: int, times: pd.Series | None = None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train positions, validation positions) per fold. Time-series folds validate on rows
    later in time than every row they train on (rows sorted by ``times``, ties kept stable)."""
    from sklearn.model_selection import KFold, StratifiedKFold, TimeSeriesSplit

    n = len(y)
    if n < 2 * n_folds:
        raise MMPError("tune.cv.folds", f"{n_folds} folds need at least {2 * n_folds} train rows (got {n})", f"at most {max(2, n // 2)}")
    positions = np.arange(n)
    if strategy == "timeseries":
        order = np.argsort(pd.to_datetime(times).to_numpy(), kind="stable")
        return [(order[tr], order[va]) for tr, va in TimeSeriesSplit(n_splits=n_folds).split(positions)]
    if strategy == "stratified":
        counts = pd.Series(np.asarray(y)).value_counts()
        if counts.min() < n_folds:
            raise MMPError(
                "tune.cv.folds", f"class {counts.idxmin()!r} has {counts.min()} rows, fewer than {n_folds} folds", f"at most {counts.min()}"
            )
        splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
        return list(splitter.split(positions, np.asarray(y)))
    return list(KFold(n_splits=n_folds, shuffle=True, random_state=seed).split(positions))
