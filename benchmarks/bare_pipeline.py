"""The same work as the DVC pipeline, in one process with no intermediate files: the baseline
that `bench_pipeline` divides the pipeline's wall time by. It calls the pipeline's own steps
(``mmp.pipeline.steps``), so the two measure the same code.

python -m benchmarks.bare_pipeline PARAMS_YAML OUT_DIR
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from mmp.core.config import load_params
from mmp.data.sources import load_source
from mmp.pipeline import steps


def main(params_path: str, out_dir: str) -> None:
    from dvclive import Live

    from mmp.inference.pyfunc import created_at

    params = load_params(params_path)
    prepared = steps.prepare(load_source(params.data, params.seed), params.data, params.seed)
    featurized = steps.featurize(prepared.train, prepared.test, params)
    with tempfile.TemporaryDirectory() as curves, Live(dir=curves, dvcyaml=None, save_dvc_exp=False, report=None) as live:
        model = steps.train(featurized.train, params, {}, live)  # the same training curve the train stage logs
    metrics = steps.evaluate(featurized.test, model, params)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    steps.package(Path(out_dir) / "package", featurized.featurizer, model, prepared.schema, metrics, params, created_at(Path.cwd()))


if __name__ == "__main__":
    main(*sys.argv[1:3])
