"""featurize: fit the preprocessing on the train split only, transform both splits into feature
matrices, and save the fitted featurizer. Under ``compute=dask`` the featurizer is fitted on
the cluster from statistics of the train partitions and the splits are transformed partition
by partition (README "Scale on Dask")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import joblib
import pandas as pd

from mmp.core.io import atomic_path
from mmp.pipeline.llm_steps import is_llm, pass_through
from mmp.pipeline.stages import checked_params, cluster, parser, run_stage
from mmp.pipeline.steps import featurize

SPLITS = ("train", "test")


def main(argv: list[str]) -> None:
    args = parser(
        __doc__, prepared="prepare's output directory", out="feature matrices directory", featurizer="fitted featurizer file"
    ).parse_args(argv)
    params = checked_params(args.params, "data", "features")
    if is_llm(params):  # the graph reads the raw text: nothing to fit
        pass_through(Path(args.prepared), args.out)
        featurizer = None
    elif params.compute.engine == "dask":
        featurizer = featurize_dask(Path(args.prepared), args.out, params)
    else:
        train, test = (pd.read_parquet(Path(args.prepared) / f"{name}.parquet") for name in SPLITS)
        result = featurize(train, test, params)
        with atomic_path(args.out) as out:
            out.mkdir()
            result.train.to_parquet(out / "train.parquet", index=False, compression="zstd")
            result.test.to_parquet(out / "test.parquet", index=False, compression="zstd")
        featurizer = result.featurizer
    with atomic_path(args.featurizer) as tmp:
        joblib.dump(featurizer, tmp)


def featurize_dask(prepared: Path, out: str, params: Any) -> Any:
    """compute=dask: fit on the train partitions on the cluster and write each split's features
    partition by partition, in order, into the same files as a local run."""
    import dask.dataframe as dd

    from mmp.core.cluster import on_cluster
    from mmp.pipeline.dask_steps import featurize_on_dask, write_partitions

    with cluster(params) as client:
        train, test = (dd.read_parquet(prepared / f"{name}.parquet").repartition(npartitions=params.compute.partitions) for name in SPLITS)

        def job() -> Any:
            result = featurize_on_dask(train.persist(), test.persist(), params)
            with atomic_path(out) as tmp:
                tmp.mkdir()
                for name, features in zip(SPLITS, (result.train, result.test), strict=True):
                    write_partitions(features, tmp / f"{name}.parquet", client)
            return result.featurizer

        return on_cluster(job, "featurize")


if __name__ == "__main__":
    run_stage(main)
