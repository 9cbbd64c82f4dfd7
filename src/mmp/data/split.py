"""The seeded train/test split (stratified for classification)."""

from __future__ import annotations

import pandas as pd

from mmp.core.config import TaskType, task_kind
from mmp.core.errors import MMPError
from mmp.data.target import target


def split(frame: pd.DataFrame, targets: list[str], task: TaskType, test_size: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    from sklearn.model_selection import train_test_split

    stratify = target(frame, targets) if task_kind(task) == "classification" else None
    if stratify is not None:
        counts = stratify.value_counts()
        if counts.min() < 2:
            raise MMPError(
                f"column {targets[0]!r}", f"class {counts.idxmin()!r} has fewer than 2 rows; a stratified split needs at least 2 per class"
            )
    train, test = train_test_split(frame, test_size=test_size, random_state=seed, stratify=stratify)
    return train.reset_index(drop=True), test.reset_index(drop=True)


def data_stats(train: pd.DataFrame, test: pd.DataFrame, targets: list[str], task: TaskType) -> dict:
    """Row counts and class balance (or the target's mean and std), for metrics/data.json: a
    handful of figures, so `dvc exp show` stays legible (the per-column profile is apart)."""
    stats: dict = {"rows": {"train": len(train), "test": len(test), "total": len(train) + len(test)}}
    full = pd.concat([train, test], ignore_index=True)
    if task_kind(task) == "classification":
        balance = target(full, targets).value_counts(normalize=True).sort_index()
        stats["class_balance"] = {str(k): round(float(v), 6) for k, v in balance.items()}
    else:
        stats["target"] = {t: {"mean": round(float(full[t].mean()), 6), "std": round(float(full[t].std()), 6)} for t in targets}
    return stats


def data_profile(train: pd.DataFrame, test: pd.DataFrame) -> dict:
    """Per-column figures (missing rates), for metrics/data_profile.json: a plain output, not a
    DVC metrics file, because one column per source column would flood `dvc exp show`."""
    missing = pd.concat([train, test], ignore_index=True).isna().mean()
    return {"missing_rate": {str(k): round(float(v), 6) for k, v in missing.items() if v > 0}}
