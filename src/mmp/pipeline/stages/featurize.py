"""featurize: fit the preprocessing on the train split only, transform both splits into feature
matrices, and save the fitted featurizer."""

from __future__ import annotations

from pathlib import Path

import joblib
import pandas as pd

from mmp.core.errors import run_cli
from mmp.core.io import atomic_path
from mmp.modeling.features import build_featurizer, fit_transform, select_columns, transform
from mmp.modeling.training import target
from mmp.pipeline.stages import checked_params, parser


def main(argv: list[str]) -> None:
    args = parser(__doc__, prepared="prepare's output directory", out="feature matrices directory", featurizer="fitted featurizer file").parse_args(argv)
    params = checked_params(args.params, "data", "features")
    train = pd.read_parquet(Path(args.prepared) / "train.parquet")
    test = pd.read_parquet(Path(args.prepared) / "test.parquet")
    targets = params.data.targets
    columns = select_columns(train, params.features, params.data.non_feature_cols)
    featurizer = build_featurizer(params.features, columns, params.data.task_type, params.seed)
    matrices = {"train": fit_transform(featurizer, train, target(train, targets)), "test": transform(featurizer, test)}
    with atomic_path(args.out) as out:
        out.mkdir()
        for name, frame in (("train", train), ("test", test)):
            matrices[name].join(frame[targets]).to_parquet(out / f"{name}.parquet", index=False, compression="zstd")
    with atomic_path(args.featurizer) as tmp:
        joblib.dump(featurizer, tmp)


if __name__ == "__main__":
    run_cli(main)
