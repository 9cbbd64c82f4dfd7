"""featurize: fit the preprocessing on the train split only, transform both splits into feature
matrices, and save the fitted featurizer."""

from __future__ import annotations

from pathlib import Path

import joblib
import pandas as pd

from mmp.config import load_params
from mmp.errors import run_cli
from mmp.features import build_featurizer, select_columns, transform
from mmp.io import atomic_path
from mmp.stages import parser


def main(argv: list[str]) -> None:
    args = parser(__doc__, prepared="prepare's output directory", out="feature matrices directory", featurizer="fitted featurizer file").parse_args(argv)
    params = load_params(args.params)
    train = pd.read_parquet(Path(args.prepared) / "train.parquet")
    test = pd.read_parquet(Path(args.prepared) / "test.parquet")
    targets = params.data.targets
    columns = select_columns(train, params.features, params.data.non_feature_cols)
    featurizer = build_featurizer(params.features, columns).fit(train)
    with atomic_path(args.out) as out:
        out.mkdir()
        for name, frame in (("train", train), ("test", test)):
            features = transform(featurizer, frame).join(frame[targets])
            features.to_parquet(out / f"{name}.parquet", index=False, compression="zstd")
    with atomic_path(args.featurizer) as tmp:
        joblib.dump(featurizer, tmp)


if __name__ == "__main__":
    run_cli(main)
