"""The cost of an explanation against a prediction, in one run.

1. HTTP, in-process (FastAPI's TestClient, the same app ``mmp serve`` runs): the per-record time
   of ``POST /explain`` vs ``POST /predict`` on the package (models/package when present, else
   one built in memory by the pipeline's own steps from params.yaml), for single-record
   requests and for 100-record requests.
2. The scorer alone (no HTTP): explained rows/s vs predicted rows/s on 2,000 test rows for a
   LightGBM (pred_contrib), a random forest (SHAP TreeExplainer) and a logistic regression
   (SHAP LinearExplainer), each fitted in memory on the default recipe's data.
"""

from __future__ import annotations

import json
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "models" / "package"
SINGLE = 300  # single-record requests per endpoint
BATCHES = 20  # 100-record requests per endpoint
ROWS = 2000  # rows explained per model family in part 2
MODELS = {
    "lightgbm": ("lightgbm.LGBMClassifier", {"n_estimators": 300, "num_leaves": 31, "n_jobs": 1, "verbose": -1}),
    "random_forest": ("sklearn.ensemble.RandomForestClassifier", {"n_estimators": 100, "max_depth": 10, "n_jobs": 1}),
    "logistic_regression": ("sklearn.linear_model.LogisticRegression", {"max_iter": 500}),
}


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        package = PACKAGE if (PACKAGE / "MLmodel").is_file() else build_package(Path(tmp))
        return {"http": http_cost(package), "scorer": scorer_cost()}


def params(class_path: str | None = None, hyperparameters: dict[str, Any] | None = None) -> Any:
    from mmp.core.config import Params, parse, read_params

    raw = read_params(ROOT / "params.yaml")
    if class_path:
        raw["model"] = {"class_path": class_path, "hyperparameters": hyperparameters or {}}
    return parse(Params, raw)


def fitted(p: Any) -> tuple[Any, Any, Any]:
    """prepare -> featurize -> train in memory: (prepared, featurized, model)."""
    from mmp.data.sources import load_source
    from mmp.pipeline import steps

    prepared = steps.prepare(load_source(p.data, p.seed), p.data, p.seed)
    featurized = steps.featurize(prepared.train, prepared.test, p)
    return prepared, featurized, steps.train(featurized.train, p)


def build_package(dest: Path) -> Path:
    from mmp.pipeline import steps

    p = params(*MODELS["lightgbm"])
    prepared, featurized, model = fitted(p)
    metrics = steps.evaluate(featurized.test, model, p)
    steps.package(dest / "package", featurized.featurizer, model, prepared.schema, metrics, p, datetime(2024, 1, 1))
    return dest / "package"


def http_cost(package: Path) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from mmp.core.settings import ServingSettings
    from mmp.serving.app import create_app

    client = TestClient(create_app(str(package), settings=ServingSettings(max_records=100), env={}))
    record = json.loads((package / "artifacts" / "schema.json").read_text())["example"]
    out: dict[str, Any] = {}
    for label, body, count in (("single", record, SINGLE), ("batch_100", [record] * 100, BATCHES)):
        per_record = {}
        for path in ("/predict", "/explain"):
            for _ in range(10):  # warm-up (the first /explain builds the explainer)
                assert client.post(path, json=body).status_code == 200
            started = time.perf_counter()
            for _ in range(count):
                client.post(path, json=body)
            per_record[path] = (time.perf_counter() - started) / (count * (100 if label == "batch_100" else 1))
        out[label] = {
            "predict_us_per_record": round(per_record["/predict"] * 1e6, 1),
            "explain_us_per_record": round(per_record["/explain"] * 1e6, 1),
            "explain_vs_predict_x": round(per_record["/explain"] / per_record["/predict"], 2),
        }
    return out


def scorer_cost() -> dict[str, Any]:
    from mmp.inference.scorer import Scorer, typed_columns

    out: dict[str, Any] = {}
    for name, (class_path, hyperparameters) in MODELS.items():
        prepared, featurized, model = fitted(params(class_path, hyperparameters))
        scorer = Scorer(featurized.featurizer, model, prepared.schema, {"threshold": 0.5})
        frame = prepared.test.head(ROWS)
        columns = typed_columns(frame, scorer.schema)
        scorer.explain_columns(typed_columns(frame.head(10), scorer.schema), 10)  # builds the explainer (SHAP's import)
        started = time.perf_counter()
        scorer.predict_columns(columns, len(frame))
        predict_s = time.perf_counter() - started
        started = time.perf_counter()
        _, explanation = scorer.explain_columns(columns, len(frame))
        explain_s = time.perf_counter() - started
        out[name] = {
            "method": explanation.method,
            "predict_rows_per_s": round(len(frame) / predict_s),
            "explain_rows_per_s": round(len(frame) / explain_s),
            "explain_vs_predict_x": round(explain_s / predict_s, 1),
        }
    return out
