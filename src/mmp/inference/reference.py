"""The reference sample a model package carries for drift monitoring.

The package step stores a seeded sample of the training inputs (the model's raw feature
columns, at most :data:`REFERENCE_ROWS` rows) with the model's own predictions for them, as
``reference.parquet`` beside MLmodel. It is laid out like a prediction log (inputs under their
own names, ``mmp_prediction`` and ``mmp_score``), so ``mmp drift --reference models:/name@alias``
compares a log against the data the model was trained on, with no other file to keep.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mmp.data.prediction_log import PREDICTION, SCORE
from mmp.inference.wrapper import ModelWrapper, load_wrapper

REFERENCE_FILE = "reference.parquet"
REFERENCE_ROWS = 5_000


def log_columns(scorer: ModelWrapper, frame: pd.DataFrame) -> pd.DataFrame:
    """``mmp_prediction`` and ``mmp_score`` (the positive class's probability for a binary
    classifier, else null) for raw rows, as the prediction log records them."""
    out = scorer.predict(frame)
    prediction = out["prediction"] if "prediction" in out else out.iloc[:, 0]  # multi-output: the first target
    score = out[f"proba_{scorer.classes[1]}"] if scorer.classes is not None and len(scorer.classes) == 2 else np.nan
    return pd.DataFrame({PREDICTION: prediction, SCORE: score}, index=frame.index)


def reference_sample(train: pd.DataFrame, scorer: ModelWrapper, seed: int, rows: int = REFERENCE_ROWS) -> pd.DataFrame:
    """A seeded sample of ``train``'s feature columns, in their original order, with the
    model's predictions: the same rows and bytes on every run."""
    sample = train[scorer.schema.feature_names]
    if len(sample) > rows:
        sample = sample.sample(n=rows, random_state=seed).sort_index()
    sample = sample.reset_index(drop=True)
    return pd.concat([sample, log_columns(scorer, sample)], axis=1)


def write_reference(package: Path, train: pd.DataFrame, seed: int) -> None:
    """Score the sample with the package just saved at ``package`` and store it there."""
    sample = reference_sample(train, load_wrapper(package), seed)
    sample.to_parquet(package / REFERENCE_FILE, index=False, compression="zstd")


def read_reference(package: Path) -> pd.DataFrame | None:
    """The package's reference sample, or None for a package saved before it had one."""
    path = package / REFERENCE_FILE
    return pd.read_parquet(path) if path.is_file() else None
