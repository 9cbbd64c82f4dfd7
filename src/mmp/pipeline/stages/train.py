"""train: build the estimator from the model recipe, with the tune stage's best values for its
search ranges (their defaults when tuning is off), and fit it on the train features. Training
curves go to dvclive where the model iterates. A binary model's decision threshold is chosen
here too (``evaluate.threshold``: ``f1`` picks it on validation rows of the train split)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import joblib
import pandas as pd

from mmp.core.io import atomic_path, read_json, write_json
from mmp.pipeline.lightning_run import mlflow_loggers
from mmp.pipeline.llm_steps import is_llm
from mmp.pipeline.stages import checked_params, cluster, live, parser, run_stage
from mmp.pipeline.steps import decision_threshold, train_with_threshold


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
    train_file = Path(args.features) / "train.parquet"
    if is_llm(params):  # nothing to fit: the model is the graph's spec (code, prompts, settings)
        from mmp.inference.llm import LLMGraph

        with atomic_path(args.out) as tmp:
            joblib.dump(LLMGraph.train(pd.DataFrame(), params), tmp)
        with live(args.live):
            pass
        write_json(args.threshold, {})
        return
    if params.compute.engine == "dask":
        model = train_dask(train_file, params, best)
        with live(args.live):  # lightgbm.dask records no training curve
            pass
        # the threshold's validation fit runs here, on the gathered train rows
        threshold = decision_threshold(pd.read_parquet(train_file), params, best)
    else:
        features = pd.read_parquet(train_file)
        loggers = mlflow_loggers(Path.cwd(), params)  # Lightning recipes, into the mirror's run
        with live(args.live) as logger:
            model, threshold = train_with_threshold(features, params, best, logger, loggers)
    with atomic_path(args.out) as tmp:
        joblib.dump(model, tmp)
    write_json(args.threshold, threshold)


def train_dask(features: Path, params: Any, best: dict[str, Any]) -> Any:
    """compute=dask: LightGBM's Dask estimator on the partitioned train features."""
    import dask.dataframe as dd

    from mmp.core.cluster import on_cluster
    from mmp.pipeline.dask_steps import dask_estimator, train_on_dask

    dask_estimator(params, best)  # a recipe without a Dask twin is refused before a cluster starts
    with cluster(params) as client:
        frame = dd.read_parquet(features).repartition(npartitions=params.compute.partitions)
        return on_cluster(lambda: train_on_dask(frame, params, best, client), "train")


if __name__ == "__main__":
    run_stage(main)
