"""featurize: fit the preprocessing on the train split only, transform both splits into feature
matrices, and save the fitted featurizer."""

from __future__ import annotations

from pathlib import Path

import joblib
import pandas as pd

from mmp.core.io import atomic_path
from mmp.pipeline.stages import checked_params, parser, run_stage
from mmp.pipeline.steps import featurize


def main(argv: list[str]) -> None:
    args = parser(
        __doc__, prepared="prepare's output directory", out="feature matrices directory", featurizer="fitted featurizer file"
    ).parse_args(argv)
    params = checked_params(args.params, "data", "features")
    splits = {name: pd.read_parquet(Path(args.prepared) / f"{name}.parquet") for name in ("train", "test")}
    result = featurize(splits["train"], splits["test"], params)
    with atomic_path(args.out) as out:
        out.mkdir()
        result.train.to_parquet(out / "train.parquet", index=False, compression="zstd")
        result.test.to_parquet(out / "test.parquet", index=False, compression="zstd")
    with atomic_path(args.featurizer) as tmp:
        joblib.dump(result.featurizer, tmp)


if __name__ == "__main__":
    run_stage(main)
