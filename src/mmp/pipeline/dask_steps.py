"""The pipeline's steps on a Dask cluster (``compute=dask``, README "Scale on Dask"). Prepare
reads Parquet/CSV sources partition by partition with dask.dataframe and splits them there;
train fits LightGBM's own Dask estimators on the partitioned features. Everything after
(evaluate, package) is the same code as a local run, on the same kind of fitted objects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from mmp.core.config import DataConfig, Params, TimeFeatures
from mmp.core.errors import MMPError, raise_all
from mmp.pipeline.steps import Featurized, Prepared, described, recipe_estimator

DASK_READERS = {".parquet": "read_parquet", ".csv": "read_csv"}


def read_source(data: DataConfig, seed: int, partitions: int) -> Any:
    """The source rows as a Dask DataFrame. A Parquet or CSV path (a file, a directory of part
    files or a glob) is read by dask.dataframe, one partition per file piece; any other source
    (synthetic, scikit-learn, SQL, feature views) loads as it does locally and is cut into
    ``partitions`` pieces."""
    import dask.dataframe as dd

    uri = data.source_uri.removeprefix("file://")
    reader = DASK_READERS.get(Path(uri.rstrip("/")).suffix.lower()) or (
        "read_parquet" if Path(uri).is_dir() and any(Path(uri).glob("*.parquet")) else None
    )
    if reader and "://" not in uri and not data.feature_views:
        return getattr(dd, reader)(uri)
    from mmp.data.sources import load_rows

    return dd.from_pandas(load_rows(data, seed), npartitions=partitions)


def dask_split_problems(data: DataConfig, time: TimeFeatures | None) -> list[MMPError]:
    """Why prepare cannot split this data on Dask (the one rule, checked by ``mmp validate``
    and the prepare stage alike)."""
    from mmp.data.split import by_time

    if by_time(data, time) or (time is not None and time.enabled):
        return [
            MMPError(
                "compute", "compute=dask splits rows at random; a time split and time features need the rows in time order", "compute=local"
            )
        ]
    return []


def prepare_on_dask(source: Any, data: DataConfig, seed: int, time: TimeFeatures | None = None) -> Prepared:
    """Split the partitioned ``source`` at random on the cluster (seeded, partition by
    partition: ``random_split``), then check, report and describe the two splits as
    :func:`mmp.pipeline.steps.prepare` does."""
    import dask

    from mmp.data.checks import data_problems
    from mmp.data.contract import coerce_dates
    from mmp.data.split import split_problems

    raise_all(dask_split_problems(data, time))
    train_part, test_part = source.random_split([1 - data.test_size, data.test_size], random_state=seed)
    train, test = (frame.reset_index(drop=True) for frame in dask.compute(train_part, test_part))
    whole = pd.concat([train, test], ignore_index=True)
    raise_all(data_problems(whole, data))
    raise_all(split_problems(whole, data.targets, data.task_type, data.test_size))
    if train.empty or test.empty:
        raise MMPError("data.test_size", f"the random split left {len(train)} train and {len(test)} test rows", "more rows")
    return described(coerce_dates(train, data.contract), coerce_dates(test, data.contract), data, time)


def featurize_on_dask(train: Any, test: Any, params: Params) -> Featurized:
    """Fit the recipe's featurizer on the partitioned ``train`` split (statistics reduced on the
    cluster: :mod:`mmp.modeling.dask_features`) and transform both splits partition by
    partition; the feature matrices come back as Dask DataFrames, the labels joined."""
    from mmp.modeling.dask_features import dask_feature_problems, few_rows, fit_featurizer_on_dask
    from mmp.modeling.features import build_featurizer, select_columns, transform

    raise_all(dask_feature_problems(params.features))
    data = params.data
    columns = select_columns(train._meta, params.features, data.non_feature_cols)
    built = build_featurizer(params.features, columns, data.task_type, params.seed, params.model.class_path)
    featurizer = fit_featurizer_on_dask(built, train)

    def featurized(part: pd.DataFrame) -> pd.DataFrame:
        return transform(featurizer, part).join(part[data.label_cols])

    splits = (split.map_partitions(featurized, meta=featurized(few_rows(split)).iloc[:0]) for split in (train, test))
    return Featurized(featurizer, *splits)


def write_partitions(frame: Any, path: Path, client: Any) -> int:
    """Write the partitions of the Dask DataFrame ``frame``, in order, as the row groups of one
    Parquet file, holding one partition at a time here; returns the number of rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    futures = client.compute(frame.to_delayed())
    writer, rows = None, 0
    try:
        for future in futures:
            table = pa.Table.from_pandas(future.result(), preserve_index=False)
            future.release()
            writer = writer or pq.ParquetWriter(path, table.schema, compression="zstd")
            writer.write_table(table.cast(writer.schema))
            rows += table.num_rows
    finally:
        client.cancel(futures)
        if writer:
            writer.close()
    return rows


def train_on_dask(features: Any, params: Params, best_params: dict[str, Any] | None, client: Any) -> Any:
    """Fit the recipe's LightGBM estimator with lightgbm.dask on the partitioned train
    ``features`` (labels joined, as the featurize stage writes them); a local estimator back."""
    from mmp.modeling.dask_training import fit_on_dask

    estimator = dask_estimator(params, best_params)
    data = params.data
    return fit_on_dask(estimator, features.drop(columns=data.label_cols), features[data.targets[0]], client)


def dask_estimator(params: Params, best_params: dict[str, Any] | None) -> Any:
    """The recipe's estimator, refused in one line (before any cluster starts) when it has no
    Dask twin."""
    from mmp.modeling.dask_training import dask_model_problems

    estimator = recipe_estimator(params, best_params)
    raise_all(dask_model_problems(type(estimator), len(params.data.targets)))
    return estimator
