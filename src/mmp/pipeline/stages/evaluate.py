"""evaluate: score the test split, write metrics/evaluate.json, and log the plots of the task
through dvclive: confusion matrix (classification), ROC and precision-recall (binary),
one-vs-rest ROC per class (multiclass), predicted-vs-actual and residuals (regression), and
feature importance, and the global explanation: mean |contribution| per raw input column and
SHAP's beeswarm (PNG) on a seeded sample of the test rows."""

from __future__ import annotations

from pathlib import Path

import joblib
import pandas as pd

from mmp.core.config import load_params
from mmp.core.io import read_json, write_json
from mmp.pipeline.llm_steps import evaluate_graph, is_llm
from mmp.pipeline.stages import live, parser, run_stage
from mmp.pipeline.steps import evaluate


def main(argv: list[str]) -> None:
    args = parser(
        __doc__,
        features="feature matrices directory",
        model="fitted model file",
        featurizer="fitted featurizer (maps model features back to raw columns)",
        threshold="the train stage's decision threshold JSON",
        metrics="metrics JSON",
        live="dvclive directory for plots",
    ).parse_args(argv)
    params = load_params(args.params)
    test = pd.read_parquet(Path(args.features) / "test.parquet")
    model = joblib.load(args.model)
    if is_llm(params):  # the graph answers the golden set; each example's result beside the plots
        with live(args.live) as logger:
            scores = evaluate_graph(test, model, params, Path(logger.dir))
        write_json(args.metrics, scores)
        return
    with live(args.live) as logger:
        chosen = read_json(args.threshold).get("threshold")
        scores = evaluate(test, model, params, logger, joblib.load(args.featurizer), chosen)
    write_json(args.metrics, scores)


if __name__ == "__main__":
    run_stage(main)
