"""The same work as the DVC pipeline, in one process with no intermediate files: the baseline
that `bench_pipeline` divides the pipeline's wall time by.

python -m benchmarks.bare_pipeline PARAMS_YAML OUT_DIR
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

from mmp.core.config import load_params
from mmp.data.contract import check_contract, coerce_dates, require_columns
from mmp.data.schema import infer_schema
from mmp.data.sources import load_source
from mmp.data.split import split
from mmp.modeling.features import build_featurizer, fit_transform, select_columns, transform
from mmp.modeling.metrics import classification_metrics, feature_importance
from mmp.modeling.recipe import build_estimator
from mmp.modeling.training import fit_model, target


def main(params_path: str, out_dir: str) -> None:
    import joblib

    from mmp.core.io import write_json
    from mmp.inference.pyfunc import created_at, save_package

    params = load_params(params_path)
    cfg, out = params.data, Path(out_dir)
    frame = load_source(cfg, params.seed)
    require_columns(frame, cfg)
    frame = coerce_dates(frame, cfg.contract)
    check_contract(frame, cfg.contract, cfg.targets)
    train, test = split(frame, cfg.targets, cfg.task_type, cfg.test_size, params.seed)
    featurizer = build_featurizer(params.features, select_columns(train, params.features, cfg.non_feature_cols), cfg.task_type, params.seed)
    X_train, X_test = fit_transform(featurizer, train, target(train, cfg.targets)), transform(featurizer, test)
    with tempfile.TemporaryDirectory() as curves:  # the same training curve the train stage logs
        from dvclive import Live

        with Live(dir=curves, dvcyaml=None, save_dvc_exp=False, report=None) as live:
            model = fit_model(build_estimator(params.model, params.seed), X_train, target(train, cfg.targets), live)
    proba = np.asarray(model.predict_proba(X_test), dtype="float64")
    scores = classification_metrics(np.asarray(target(test, cfg.targets)), proba, np.asarray(model.classes_), params.evaluate.threshold)
    feature_importance(model, X_test, target(test, cfg.targets), params.seed, params.evaluate.importance_top_k)
    schema = infer_schema(train, cfg)
    out.mkdir(parents=True, exist_ok=True)
    joblib.dump(featurizer, out / "featurizer.joblib")
    joblib.dump(model, out / "model.joblib")
    write_json(out / "schema.json", schema.to_json())
    write_json(out / "metadata.json", {"model_class": params.model.class_path, "threshold": params.evaluate.threshold, "metrics": scores})
    artifacts = {name: out / f"{name}.{'json' if name in ('schema', 'metadata') else 'joblib'}" for name in ("featurizer", "model", "schema", "metadata")}
    save_package(out / "package", artifacts, created_at(Path.cwd()))


if __name__ == "__main__":
    main(*sys.argv[1:3])
