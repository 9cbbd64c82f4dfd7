"""package: write the MLflow pyfunc model directory (featurizer + model + data contract +
signature + input example + MODEL_CARD.md) that takes raw rows and returns predictions.
Mirroring to MLflow is the `mirror` stage's job, outside this cached one."""

from __future__ import annotations

from pathlib import Path

import joblib
import pandas as pd

from mmp.core.config import load_params
from mmp.core.io import atomic_path, md5_file, read_json
from mmp.data.schema import InputSchema
from mmp.inference.model_card import DataFile
from mmp.pipeline.llm_steps import is_llm, package_graph
from mmp.pipeline.stages import parser, run_stage
from mmp.pipeline.steps import package
from mmp.tuning.space import tuned_recipe


def data_file(name: str, path: str) -> DataFile:
    import pyarrow.parquet as pq

    return DataFile(name, path, pq.read_metadata(path).num_rows, md5_file(path))


def main(argv: list[str]) -> None:
    args = parser(
        __doc__,
        schema="input schema JSON from prepare",
        train="prepared train split",
        test="prepared test split",
        featurizer="fitted featurizer",
        model="fitted model",
        metrics="evaluate metrics JSON",
        best_params="the tune stage's best values (with tune.families: the family it chose)",
        out="MLflow model directory",
    ).parse_args(argv)
    params = load_params(args.params)
    spec, _, family = tuned_recipe(params.model, read_json(args.best_params))
    params = params.model_copy(update={"model": spec})  # AutoML: the card names the family trained
    from mmp.inference.pyfunc import created_at  # mlflow is heavy: import only here

    data = [data_file("train", args.train), data_file("test", args.test)]
    fitted = {"featurizer": Path(args.featurizer).read_bytes(), "model": Path(args.model).read_bytes()}  # the tracked bytes, as they are
    schema = InputSchema.read(args.schema)
    if is_llm(params):
        with atomic_path(args.out) as tmp:
            package_graph(tmp, joblib.load(args.model), schema, read_json(args.metrics), params, created_at(Path.cwd()), data)
        return
    with atomic_path(args.out) as tmp:
        package(
            tmp,
            **fitted,
            schema=schema,
            metrics=read_json(args.metrics),
            params=params,
            created=created_at(Path.cwd()),
            data=data,
            train=pd.read_parquet(args.train, columns=schema.feature_names),
            family=family,
        )


if __name__ == "__main__":
    run_stage(main)
