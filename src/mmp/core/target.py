"""The target of a frame, selected one way everywhere (split, featurize, train, evaluate, tuning,
promotion): one target column is a Series, several (multi-output regression) a DataFrame."""

from __future__ import annotations

import pandas as pd


def target(frame: pd.DataFrame, targets: list[str]) -> pd.Series | pd.DataFrame:
    return frame[targets[0]] if len(targets) == 1 else frame[targets]
