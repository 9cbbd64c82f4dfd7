"""LightGBM's own categorical splits against one-hot columns: the pipeline's featurize and train
steps on the same prepared rows in one process, ``features.categorical.encode`` onehot against
auto (native codes for LightGBM), with the test ROC AUC of each. LightGBM runs on one thread on
both sides, so the ratio holds on a machine other jobs load. ``BENCH_CATEGORIES_ROWS`` sets the
size (default 100,000)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]


def run() -> dict:
    from sklearn.metrics import roc_auc_score

    from mmp.core.config import Params, parse
    from mmp.data.sources import load_source
    from mmp.pipeline import steps

    rows = int(os.environ.get("BENCH_CATEGORIES_ROWS", "100000"))
    raw = recipe(rows)
    base = parse(Params, raw)
    prepared = steps.prepare(load_source(base.data, base.seed), base.data, base.seed)
    results: dict[str, Any] = {"rows": rows, "cpu_count": os.cpu_count(), "load_average": os.getloadavg()}
    for encode in ("onehot", "auto"):
        params = parse(
            Params, {**raw, "features": {**raw["features"], "categorical": {**raw["features"]["categorical"], "encode": encode}}}
        )
        started = time.perf_counter()
        featurized = steps.featurize(prepared.train, prepared.test, params)
        fitted = time.perf_counter()
        model = steps.train(featurized.train, params)
        done = time.perf_counter()
        X = featurized.test.drop(columns=params.data.label_cols)
        results[encode] = {
            "feature_columns": X.shape[1],
            "featurize_s": round(fitted - started, 2),
            "train_s": round(done - fitted, 2),
            "roc_auc": round(float(roc_auc_score(featurized.test[params.data.target_col], model.predict_proba(X)[:, 1])), 4),
        }
    for step in ("featurize_s", "train_s"):
        results[f"{step.removesuffix('_s')}_ratio_native_to_onehot"] = round(results["auto"][step] / results["onehot"][step], 3)
    return results


def recipe(rows: int) -> dict[str, Any]:
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    raw["data"]["rows"] = rows
    raw["data"]["contract"] = yaml.safe_load((ROOT / "conf/contracts" / f"{raw['data']['contract']}.yaml").read_text())
    raw["model"]["hyperparameters"]["n_jobs"] = 1
    return raw


if __name__ == "__main__":
    print(run())
