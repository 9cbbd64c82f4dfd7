"""package: write the MLflow pyfunc model directory (featurizer + model + data contract +
signature + input example + MODEL_CARD.md) that takes raw rows and returns predictions, then
mirror the run to MLflow and register the package as a `candidate` version."""

from __future__ import annotations

import tempfile
from pathlib import Path

from mmp.core.config import load_params
from mmp.core.errors import run_cli
from mmp.core.io import atomic_path, read_json, write_json
from mmp.data.schema import InputSchema
from mmp.inference.model_card import DataFile, render_card
from mmp.modeling.gate import evaluate_gate
from mmp.ops.tracking.state import md5_file
from mmp.pipeline.stages import parser


def data_file(name: str, path: str) -> DataFile:
    import pyarrow.parquet as pq

    return DataFile(name, path, pq.read_metadata(path).num_rows, md5_file(Path(path)))


def main(argv: list[str]) -> None:
    args = parser(
        __doc__, schema="input schema JSON from prepare", train="prepared train split", test="prepared test split", featurizer="fitted featurizer",
        model="fitted model", metrics="evaluate metrics JSON", out="MLflow model directory",
    ).parse_args(argv)
    params = load_params(args.params)
    metrics = read_json(args.metrics)
    key, gate = params.evaluate.gate_for(params.data.task_type)
    card = render_card(params, metrics, evaluate_gate(gate, metrics, None, key), [data_file("train", args.train), data_file("test", args.test)], InputSchema.read(args.schema))
    from mmp.inference.pyfunc import created_at, save_package  # mlflow is heavy: import only here

    with tempfile.TemporaryDirectory() as scratch:
        metadata = Path(scratch) / "metadata.json"
        write_json(metadata, {"model_class": params.model.class_path, "threshold": params.evaluate.threshold, "metrics": metrics})
        artifacts = {"featurizer": Path(args.featurizer), "model": Path(args.model), "schema": Path(args.schema), "metadata": metadata}
        with atomic_path(args.out) as tmp:
            save_package(tmp, artifacts, created_at(Path.cwd()))
            (tmp / "MODEL_CARD.md").write_text(card)
    from mmp.ops.tracking.sync import mirror_after_stage

    mirror_after_stage(Path.cwd())  # the outputs are complete on disk whatever happens here


if __name__ == "__main__":
    run_cli(main)
