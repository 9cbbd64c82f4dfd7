"""train: build the estimator from the model recipe and fit it on the train features. Training
curves go to dvclive where the model iterates."""

from __future__ import annotations

from pathlib import Path

import joblib
import pandas as pd

from mmp.errors import run_cli
from mmp.io import atomic_path
from mmp.recipe import build_estimator, check_task
from mmp.stages import checked_params, live, parser
from mmp.training import fit_model, target


def main(argv: list[str]) -> None:
    args = parser(__doc__, features="feature matrices directory", out="fitted model file", live="dvclive directory for training curves").parse_args(argv)
    params = checked_params(args.params, "data", "model")
    estimator = build_estimator(params.model, params.seed)
    check_task(estimator, params.data.task_type)
    train = pd.read_parquet(Path(args.features) / "train.parquet")
    targets = params.data.targets
    with live(args.live) as logger:
        fit_model(estimator, train.drop(columns=targets), target(train, targets), logger)
    with atomic_path(args.out) as tmp:
        joblib.dump(estimator, tmp)


if __name__ == "__main__":
    run_cli(main)
