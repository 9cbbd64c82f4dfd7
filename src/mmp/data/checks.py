"""The data checks: the ``data`` section against itself, and a loaded source against it (target
and declared columns, the data contract, the classes a split needs). Pure functions that return
every problem at once; the prepare stage and ``mmp validate`` run them."""

from __future__ import annotations

import pandas as pd

from mmp.core.config import DataConfig, task_kind
from mmp.core.errors import MMPError, collect
from mmp.data.contract import check_contract, coerce_dates, require_columns
from mmp.data.sql import check_identifiers


def data_config_problems(data: DataConfig) -> list[MMPError]:
    errors = collect(check_identifiers, data.identifiers, data.allowed_identifiers)[1]
    if task_kind(data.task_type) == "classification" and len(data.targets) > 1:
        errors.append(
            MMPError(
                "data.target_col",
                f"a list of targets is multi-output regression but data.task_type is {data.task_type}",
                "regression, or a single target column",
            )
        )
    return errors


def checked_frame(frame: pd.DataFrame, cfg: DataConfig) -> tuple[pd.DataFrame | None, list[MMPError]]:
    """The source with its dates coerced, and its problems. The frame is None when it cannot be
    checked further (no target column, or unparseable dates): later checks need both."""
    # imported here: the stages that only check the config (featurize, train) never load split
    from mmp.data.split import split_problems

    _, errors = collect(require_columns, frame, cfg)
    if len(frame) == 0:  # said first (an empty JSON list has no columns either); no value to check
        return None, split_problems(frame, cfg.targets, cfg.task_type, cfg.test_size) + errors
    if errors:
        return None, errors
    coerced, errors = collect(coerce_dates, frame, cfg.contract)
    if coerced is None:
        return None, errors
    errors += collect(check_contract, coerced, cfg.contract, cfg.targets)[1]
    target_errors = target_problems(coerced, cfg)
    # the split's row counts mean something only for a target that suits the task
    return coerced, errors + (target_errors or split_problems(coerced, cfg.targets, cfg.task_type, cfg.test_size))


def target_problems(frame: pd.DataFrame, cfg: DataConfig) -> list[MMPError]:
    """The target column(s) must suit the task: classes for a classifier, numbers for regression
    and uplift (whose treatment must be 0/1 with both groups present)."""
    if task_kind(cfg.task_type) != "classification":
        if any(not pd.api.types.is_numeric_dtype(frame[t]) for t in cfg.targets):
            return [
                MMPError(
                    "data.task_type", f"{cfg.task_type} needs numeric target column(s)", "binary or multiclass for a categorical target"
                )
            ]
        return treatment_problems(frame, cfg)

    counts = frame[cfg.targets[0]].value_counts()
    if len(counts) < 2:
        return [
            MMPError(
                "data.target_col",
                f"column {cfg.targets[0]!r} has a single class; classification needs at least 2",
                "regression for a numeric target",
            )
        ]
    if cfg.task_type == "binary" and len(counts) > 2:
        return [MMPError("data.task_type", f"binary, but column {cfg.targets[0]!r} has {len(counts)} classes", "multiclass")]
    return []


def treatment_problems(frame: pd.DataFrame, cfg: DataConfig) -> list[MMPError]:
    """Uplift: the treatment holds 0 (control) and 1 (treated), both present, and no gaps; the
    known effect, when declared, is numeric."""
    errors = []
    if cfg.treatment_col:
        values = frame[cfg.treatment_col]
        seen = set(values.dropna().unique().tolist())
        if values.isna().any() or not seen <= {0, 1} or len(seen) < 2:
            shown = sorted(map(str, seen))[:5]
            errors.append(
                MMPError(
                    f"column {cfg.treatment_col!r}",
                    f"the treatment must be 0 (control) or 1 (treated) with both groups present and no missing values; got {shown}",
                    "0 and 1",
                )
            )
    if cfg.effect_col and not pd.api.types.is_numeric_dtype(frame[cfg.effect_col]):
        errors.append(MMPError(f"column {cfg.effect_col!r}", "the known effect (data.effect_col) must be numeric"))
    return errors


def data_problems(frame: pd.DataFrame, cfg: DataConfig) -> list[MMPError]:
    """Every problem of the loaded source against the ``data`` section."""
    return checked_frame(frame, cfg)[1]
