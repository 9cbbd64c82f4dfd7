"""train: build the estimator from the model recipe, with the tune stage's best values for its
search ranges (their defaults when tuning is off), and fit it on the train features. Training
curves go to dvclive where the model iterates. A binary model's decision threshold is chosen
here too (``evaluate.threshold``: ``f1`` picks it on validation rows of the train split)."""

from __future__ import annotations

from pathlib import Path

import joblib
import pandas as pd

from mmp.core.io import atomic_path, read_json, write_json
from mmp.pipeline.stages import checked_params, live, parser, run_stage
from mmp.pipeline.steps import decision_threshold, train


def main(argv: list[str]) -> None:
    args = parser(
        __doc__,
        features="feature matrices directory",
        best_params="the tune stage's best values",
        out="fitted model file",
        live="dvclive directory for training curves",
        threshold="binary: the decision threshold JSON (chosen on validation rows for evaluate.threshold: f1)",
    ).parse_args(argv)
    params = checked_params(args.params, "data", "model")
    best = read_json(args.best_params)
    features = pd.read_parquet(Path(args.features) / "train.parquet")
    with live(args.live) as logger:
        model = train(features, params, best, logger)
    with atomic_path(args.out) as tmp:
        joblib.dump(model, tmp)
    write_json(args.threshold, decision_threshold(features, params, best))


if __name__ == "__main__":
    run_stage(main)
