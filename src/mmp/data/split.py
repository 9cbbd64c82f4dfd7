"""The seeded train/test split (stratified for classification)."""

from __future__ import annotations

import math

import numpy as np
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
    """scikit-learn's ``train_test_split(frame, test_size=test_size, random_state=seed,
    stratify=<the target for classification>)``, row for row (tests/unit/test_data.py compares
    them): written out here because importing scikit-learn was 1.2 s of the prepare stage's 4 s."""
    raise_all(split_problems(frame, targets, task, test_size))
    n_train, n_test = sizes(len(frame), test_size)
    rng = np.random.RandomState(seed)
    if task_kind(task) == "classification":
        train_rows, test_rows = _stratified_rows(np.asarray(target(frame, targets)), n_train, n_test, rng)
    else:
        permutation = rng.permutation(len(frame))
        train_rows, test_rows = permutation[n_test : n_test + n_train], permutation[:n_test]
    return frame.iloc[train_rows].reset_index(drop=True), frame.iloc[test_rows].reset_index(drop=True)


def _stratified_rows(y: np.ndarray, n_train: int, n_test: int, rng: np.random.RandomState) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's ``StratifiedShuffleSplit`` (one split): each class's rows shuffled and
    cut by its share of the train and test sizes, then both sides shuffled."""
    # np.unique's sorted codes and counts, by hashing instead of sorting (0.5 s -> 0.02 s at 2M rows)
    y_indices, _ = pd.factorize(y, sort=True)
    class_counts = np.bincount(y_indices)
    class_rows = np.split(np.argsort(y_indices, kind="stable"), np.cumsum(class_counts)[:-1])
    n_i = _approximate_mode(class_counts, n_train, rng)
    t_i = _approximate_mode(class_counts - n_i, n_test, rng)
    train: list[np.ndarray] = []
    test: list[np.ndarray] = []
    for rows, count, n, t in zip(class_rows, class_counts, n_i, t_i, strict=True):
        shuffled = rows.take(rng.permutation(count), mode="clip")
        train.append(shuffled[:n])
        test.append(shuffled[n : n + t])
    train_rows, test_rows = np.concatenate(train), np.concatenate(test)
    return rng.permutation(train_rows), rng.permutation(test_rows)


def _approximate_mode(class_counts: np.ndarray, n_draws: int, rng: np.random.RandomState) -> np.ndarray:
    """How many of ``n_draws`` rows each class gets: its floored share, then one more for the
    largest remainders, ties broken by ``rng`` (scikit-learn's ``_approximate_mode``)."""
    continuous = class_counts / class_counts.sum() * n_draws
    floored = np.floor(continuous)
    need_to_add = int(n_draws - floored.sum())
    if need_to_add > 0:
        remainder = continuous - floored
        for value in np.sort(np.unique(remainder))[::-1]:
            (ties,) = np.where(remainder == value)
            add_now = min(len(ties), need_to_add)
            floored[rng.choice(ties, size=add_now, replace=False)] += 1
            need_to_add -= add_now
            if need_to_add == 0:
                break
    return floored.astype(int)


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
