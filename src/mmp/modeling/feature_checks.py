"""The feature checks: the ``features`` section against the ``data`` section, and the listed
feature columns against a loaded source. Pure functions that return every problem at once."""

from __future__ import annotations

import pandas as pd

from mmp.core.config import DataConfig, FeaturesConfig
from mmp.core.errors import MMPError, collect
from mmp.modeling.features import select_columns


def feature_config_problems(features: FeaturesConfig, data: DataConfig) -> list[MMPError]:
    """Feature settings that cannot work with this data configuration."""
    errors = []
    leaked = sorted(set(data.non_feature_cols) & set(features.explicit_columns()))
    if leaked:
        errors.append(
            MMPError(
                "features",
                f"{leaked} are id, time or target columns and must not be listed as features",
                "remove them from features.*.columns",
            )
        )
    if features.categorical.encode == "target" and len(data.targets) > 1:
        errors.append(
            MMPError(
                "features.categorical.encode", "target encoding needs a single target column", "onehot or ordinal for multi-output targets"
            )
        )
    if features.selection.method != "none" and len(data.targets) > 1:
        errors.append(
            MMPError("features.selection.method", "feature selection needs a single target column", "none for multi-output targets")
        )
    return errors


def feature_column_problems(frame: pd.DataFrame, features: FeaturesConfig, data: DataConfig) -> list[MMPError]:
    """The columns ``features`` lists must exist in the source and have a usable kind."""
    return collect(select_columns, frame, features, data.non_feature_cols)[1]
