"""The seeded train/test split (stratified for classification)."""

from __future__ import annotations

import math

import pandas as pd

from mmp.core.config import DataConfig, TaskType, TimeFeatures, task_kind
from mmp.core.errors import MMPError, raise_all
from mmp.core.target import target


def sizes(rows: int, test_size: float) -> tuple[int, int]:
    """(train, test) row counts of a split, computed the way scikit-learn does."""
    n_test = math.ceil(test_size * rows)
    return rows - n_test, n_test


def split_problems(frame: pd.DataFrame, targets: list[str], task: TaskType, test_size: float) -> list[MMPError]:
    """Whether ``frame`` has rows enough to split: at least one on each side, and for a
    stratified split two per class and one per class on each side. The one minimum-rows rule:
    ``mmp validate`` reports it and ``split`` refuses by it."""
    rows = len(frame)
    if rows == 0:
        return [MMPError("data.source_uri", "the source has 0 rows; training needs rows")]
    classes = target(frame, targets).value_counts() if task_kind(task) == "classification" else None
    per_side = 1 if classes is None else len(classes)
    n_train, n_test = sizes(rows, test_size)
    errors = []
    if classes is not None and classes.min() < 2:
        rare = classes.index[classes.argmin()]
        rare = rare.item() if hasattr(rare, "item") else rare
        errors.append(
            MMPError(f"column {targets[0]!r}", f"class {rare!r} has {classes.min()} row(s); a stratified split needs at least 2 per class")
        )
    if min(n_train, n_test) < per_side:
        need = next((n for n in range(rows, rows + 1_000_000) if min(sizes(n, test_size)) >= per_side), None)
        errors.append(
            MMPError(
                "data.source_uri",
                f"the source has {rows} rows: data.test_size={test_size:g} leaves {n_train} train and {n_test} test rows, "
                f"and each side needs at least {per_side}{' (one per class)' if classes is not None else ''}",
                f"at least {need} rows, or another data.test_size" if need else "more rows, or a larger data.test_size",
            )
        )
    return errors


def split(frame: pd.DataFrame, targets: list[str], task: TaskType, test_size: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    from sklearn.model_selection import train_test_split

    raise_all(split_problems(frame, targets, task, test_size))
    stratify = target(frame, targets) if task_kind(task) == "classification" else None
    train, test = train_test_split(frame, test_size=test_size, random_state=seed, stratify=stratify)
    return train.reset_index(drop=True), test.reset_index(drop=True)


def by_time(data: DataConfig, time: TimeFeatures | None) -> bool:
    """Whether prepare splits by time: ``data.split: time``, or ``auto`` with time features on
    (a random split would train on rows later than the test rows they are compared with)."""
    return data.split == "time" or (data.split == "auto" and time is not None and time.enabled)


def time_split(
    frame: pd.DataFrame, targets: list[str], task: TaskType, test_size: float, time_col: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The latest ``test_size`` of the rows by ``time_col`` are the test rows (ties in source order)."""
    raise_all(split_problems(frame, targets, task, test_size))
    ordered = frame.iloc[pd.to_datetime(frame[time_col]).argsort(kind="stable")]
    n_train, _ = sizes(len(frame), test_size)
    return ordered.iloc[:n_train].reset_index(drop=True), ordered.iloc[n_train:].reset_index(drop=True)


def data_stats(train: pd.DataFrame, test: pd.DataFrame, targets: list[str], task: TaskType, treatment: str | None = None) -> dict:
    """Row counts and class balance (or the target's mean and std; an uplift task's treated
    share), for metrics/data.json: a handful of figures, so `dvc exp show` stays legible (the
    per-column profile is apart)."""
    stats: dict = {"rows": {"train": len(train), "test": len(test), "total": len(train) + len(test)}}
    full = pd.concat([train, test], ignore_index=True)
    if task_kind(task) == "classification":
        balance = target(full, targets).value_counts(normalize=True).sort_index()
        stats["class_balance"] = {str(k): round(float(v), 6) for k, v in balance.items()}
    else:
        stats["target"] = {t: {"mean": round(float(full[t].mean()), 6), "std": round(float(full[t].std()), 6)} for t in targets}
    if treatment:
        stats["treated_share"] = round(float(full[treatment].mean()), 6)
    return stats
