"""package: write the MLflow pyfunc model directory (featurizer + model + data contract +
signature + input example) that takes raw rows and returns predictions."""

from __future__ import annotations

import tempfile
from pathlib import Path

from mmp.config import load_params
from mmp.errors import run_cli
from mmp.io import atomic_path, read_json, write_json
from mmp.stages import parser


def main(argv: list[str]) -> None:
    args = parser(
        __doc__, schema="input schema JSON from prepare", featurizer="fitted featurizer", model="fitted model", metrics="evaluate metrics JSON", out="MLflow model directory"
    ).parse_args(argv)
    params = load_params(args.params)
    from mmp.packaging import created_at, save_package  # mlflow is heavy: import only here

    with tempfile.TemporaryDirectory() as scratch:
        metadata = Path(scratch) / "metadata.json"
        write_json(metadata, {"model_class": params.model.class_path, "threshold": params.evaluate.threshold, "metrics": read_json(args.metrics)})
        artifacts = {"featurizer": Path(args.featurizer), "model": Path(args.model), "schema": Path(args.schema), "metadata": metadata}
        with atomic_path(args.out) as tmp:
            save_package(tmp, artifacts, created_at(Path.cwd()))


if __name__ == "__main__":
    run_cli(main)
