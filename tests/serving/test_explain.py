"""Explanations: ``POST /explain`` in-process and ``mmp predict --explain`` (batch scoring), for a
LightGBM, a random forest and a logistic regression fitted by the pipeline's own steps. The
contributions by raw column add up to the raw score, and the raw score maps back to the
probability the server returns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from mmp.core.config import Params
from mmp.core.settings import ServingSettings
from mmp.data.synthetic import credit_default
from mmp.inference.batch import ExplainColumns, Identity, score_to_file
from mmp.inference.explain import MAX_TOP_K, inverse_link
from mmp.inference.scorer import Scorer
from mmp.pipeline import steps
from mmp.serving.app import Service, build_app, create_app
from mmp.serving.loader import ModelRef
from tests.serving.conftest import example_record, small_params

MODELS = {
    "lightgbm": ("lightgbm.LGBMClassifier", {"n_estimators": 30, "num_leaves": 15, "n_jobs": 1, "verbose": -1}, "lightgbm_pred_contrib"),
    "random_forest": ("sklearn.ensemble.RandomForestClassifier", {"n_estimators": 20, "max_depth": 6, "n_jobs": 1}, "shap_tree"),
    "logistic_regression": ("sklearn.linear_model.LogisticRegression", {"max_iter": 300}, "shap_linear"),
}


def params_for(kind: str) -> Params:
    params = small_params()
    class_path, hyperparameters, _ = MODELS[kind]
    return params.model_copy(
        update={"model": params.model.model_copy(update={"class_path": class_path, "hyperparameters": hyperparameters})}
    )


@pytest.fixture(scope="module", params=list(MODELS))
def fitted(request: pytest.FixtureRequest) -> tuple[str, Scorer, pd.DataFrame]:
    """A scorer fitted in memory by the pipeline's steps, and raw test rows."""
    params = params_for(request.param)
    prepared = steps.prepare(credit_default(800, 7), params.data, params.seed)
    featurized = steps.featurize(prepared.train, prepared.test, params)
    model = steps.train(featurized.train, params)
    return request.param, Scorer(featurized.featurizer, model, prepared.schema, {"threshold": 0.5}), prepared.test


@pytest.fixture(scope="module")
def client(fitted: tuple[str, Scorer, pd.DataFrame]) -> TestClient:
    _, scorer, _ = fitted
    ref = ModelRef(source="memory", path="", name="explained", version="1")
    return TestClient(build_app(Service(ref, scorer, ServingSettings(max_records=50), None)))


def records(test: pd.DataFrame, n: int) -> list[dict[str, Any]]:
    """Raw test rows as a client sends them (ISO dates, null for missing)."""
    rows = test.head(n).astype(object).where(test.head(n).notna(), None)
    out = rows.to_dict(orient="records")
    for row in out:
        for key, value in row.items():
            if isinstance(value, pd.Timestamp):
                row[key] = value.isoformat()
            elif isinstance(value, np.generic):
                row[key] = value.item()
    return [{k: v for k, v in row.items() if k != "default"} for row in out]


def model_raw_score(kind: str, scorer: Scorer, frame: pd.DataFrame) -> np.ndarray:
    """The model's own raw score, independently of the explainer: LightGBM's margin, the
    logistic regression's decision function, the forest's probability of the positive class."""
    from mmp.inference.scorer import typed_columns

    X = scorer._featurize(typed_columns(frame, scorer.schema))
    if kind == "lightgbm":
        return np.asarray(scorer.model.booster_.predict(np.asarray(X), raw_score=True))
    if kind == "logistic_regression":
        return np.asarray(scorer.model.decision_function(X))
    return np.asarray(scorer.model.predict_proba(X))[:, 1]


def test_explain_adds_up_to_the_raw_score_and_its_probability(client: TestClient, fitted: tuple[str, Scorer, pd.DataFrame]) -> None:
    kind, scorer, test = fitted
    body = records(test, 8)
    res = client.post(f"/explain?k={MAX_TOP_K}", json=body)
    assert res.status_code == 200, res.text
    out = res.json()
    assert out["method"] == MODELS[kind][2]
    assert out["link"] == ("identity" if kind == "random_forest" else "logit")
    predicted = client.post("/predict", json=body).json()
    raw = model_raw_score(
        kind,
        scorer,
        pd.DataFrame(body).assign(**{c: lambda d, c=c: pd.to_datetime(d[c]) for c in ("first_credit_date", "application_date")}),
    )
    for i, item in enumerate(out["explanations"]):
        columns = [c["column"] for c in item["contributions"]]
        assert sorted(columns) == sorted(scorer.features)  # every raw column once: one-hot columns summed back
        total = item["base_value"] + sum(c["contribution"] for c in item["contributions"])
        assert item["rest"] == 0.0
        assert total == pytest.approx(item["raw_score"], abs=1e-9)
        assert item["raw_score"] == pytest.approx(raw[i], abs=1e-5)
        assert float(inverse_link(out["link"], np.asarray(total))) == pytest.approx(item["probability"], abs=1e-5)
        assert item["probability"] == pytest.approx(predicted["probabilities"][i]["1"], abs=1e-12)
        assert item["prediction"] == predicted["predictions"][i] and item["explained_class"] == 1


def test_top_k_lists_the_largest_contributions_and_the_rest(client: TestClient, fitted: tuple[str, Scorer, pd.DataFrame]) -> None:
    _, _, test = fitted
    res = client.post("/explain?k=3", json=records(test, 1)[0])
    assert res.status_code == 200, res.text
    item = res.json()["explanations"][0]
    values = [c["contribution"] for c in item["contributions"]]
    assert len(values) == 3 and [abs(v) for v in values] == sorted((abs(v) for v in values), reverse=True)
    assert item["base_value"] + sum(values) + item["rest"] == pytest.approx(item["raw_score"], abs=1e-9)
    default = client.post("/explain", json=records(test, 1)[0]).json()["explanations"][0]
    assert len(default["contributions"]) == 5


def test_explain_has_the_guards_of_predict(client: TestClient, fitted: tuple[str, Scorer, pd.DataFrame]) -> None:
    if fitted[0] != "lightgbm":
        pytest.skip("the guards do not depend on the model")
    record = records(fitted[2], 1)[0]
    for k in (0, MAX_TOP_K + 1, "x"):
        res = client.post(f"/explain?k={k}", json=record)
        assert res.status_code == 422 and res.json()["fields"] == ["query.k"], res.text
    bad = client.post("/explain", json={**record, "region": "mars"})
    assert bad.status_code == 422 and bad.json()["fields"] == ["region"]
    assert client.post("/explain", content=b"a=1", headers={"content-type": "text/plain"}).status_code == 415
    assert client.post("/explain", json=[record] * 51).status_code == 422  # max_records
    schema = client.get("/openapi.json").json()
    assert schema["paths"]["/explain"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "ExplainResponse"
    )


def test_explain_needs_the_token_when_one_is_set(package_dir: Path) -> None:
    app = create_app(str(package_dir), settings=ServingSettings(), env={"MMP_API_TOKEN": "s3cret"})
    locked, record = TestClient(app), example_record(package_dir)
    assert locked.post("/explain", json=record).status_code == 401
    res = locked.post("/explain", json=record, headers={"Authorization": "Bearer s3cret"})
    assert res.status_code == 200 and res.json()["method"] == "lightgbm_pred_contrib"


@pytest.mark.parametrize("top_k", [None, 2])
def test_batch_explain_columns(fitted: tuple[str, Scorer, pd.DataFrame], tmp_path: Path, top_k: int | None) -> None:
    """``mmp predict --explain [--top-k K]`` (batch scoring, in chunks): the same figures as /explain."""
    kind, scorer, test = fitted
    if top_k is not None and kind != "lightgbm":
        pytest.skip("the top-k layout does not depend on the model")
    source = tmp_path / "in.parquet"
    test.drop(columns=["default"]).head(30).to_parquet(source)
    from mmp.inference.batch import file_chunks

    chunks, total = file_chunks(source, 7)  # several chunks
    out = tmp_path / "out.parquet"
    score_to_file(
        scorer, chunks, out, Identity("m", "1", pd.Timestamp("2024-01-01", tz="UTC")), total, False, explain=ExplainColumns(top_k)
    )
    scored = pd.read_parquet(out)
    assert len(scored) == 30 and set(scored["explain_method"]) == {MODELS[kind][2]}
    link = "identity" if kind == "random_forest" else "logit"
    if top_k is None:
        contrib = scored[[f"contrib_{c}" for c in scorer.features]].to_numpy()
        np.testing.assert_allclose(scored["base_value"] + contrib.sum(axis=1), scored["raw_score"], atol=1e-9)
        np.testing.assert_allclose(inverse_link(link, scored["raw_score"].to_numpy()), scored["proba_1"], atol=1e-5)
    else:
        assert [c for c in scored.columns if c.startswith("top")] == [
            "top1_column",
            "top1_contribution",
            "top2_column",
            "top2_contribution",
        ]
        assert set(scored["top1_column"]) <= set(scorer.features)
        assert (scored["top1_contribution"].abs() >= scored["top2_contribution"].abs()).all()


def test_evaluate_writes_and_declares_the_global_explanation(
    fitted: tuple[str, Scorer, pd.DataFrame], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The evaluate stage's explanation: mean |contribution| per raw column (a bar plot) and the
    beeswarm PNG, both declared for `dvc plots` with titles."""
    import yaml

    from mmp.modeling.features import transform
    from mmp.pipeline.explanation import explain_globally
    from mmp.pipeline.stages import live, plots_config

    kind, scorer, test = fitted
    if kind == "random_forest":
        pytest.skip("TreeSHAP is checked above; the linear explainer is the one with a background sample here")
    X = transform(scorer.featurizer, test)
    monkeypatch.chdir(tmp_path)
    with live("metrics/evaluate") as logger:
        summary = explain_globally(logger, scorer.model, scorer.featurizer, X, seed=0)
    assert sorted(summary["column"]) == sorted(scorer.features)
    assert summary["mean_abs_contribution"].is_monotonic_decreasing and summary["mean_abs_contribution"].iloc[0] > 0
    entries = yaml.safe_load(plots_config(Path("metrics/evaluate")).read_text())["plots"]
    declared = {name: props for entry in entries for name, props in entry.items()}
    assert declared["../../evaluate/plots/custom/explanation.json"]["title"].startswith(
        f"Mean |contribution| by raw column ({MODELS[kind][2]}"
    )
    assert declared["../../evaluate/plots/images/explanation_beeswarm.png"] == {"title": "Explanation beeswarm"}
    assert Path("metrics/evaluate/plots/images/explanation_beeswarm.png").read_bytes().startswith(b"\x89PNG")


BEESWARM_PROBE = """
import sys
import numpy as np
from mmp.pipeline.explanation import beeswarm
rng = np.random.default_rng(0)
values = rng.normal(size=(300, 17))
values[:, 3] = np.nan  # a one-hot column: grey dots
fig = beeswarm(rng.normal(size=(300, 17)), np.zeros(300), values, [f"c{i}" for i in range(17)])
fig.savefig(sys.argv[1], metadata={"Software": None})
print([t.get_text() for t in fig.axes[0].get_yticklabels()][::-1], "shap" in sys.modules)
"""


def test_the_beeswarm_is_drawn_without_shap_and_the_same_every_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Importing shap for this one figure cost the evaluate stage about 1 s; the PNG is a
    DVC-tracked output, so two runs draw the same bytes. Rows: the 14 largest columns by mean
    |contribution|, then the sum of the 3 others (as SHAP's beeswarm shows more than 15)."""
    import subprocess
    import sys

    from tests.conftest import ROOT, pipeline_env

    command = [sys.executable, "-c", BEESWARM_PROBE, str(tmp_path / "a.png")]
    printed = subprocess.run(command, env=pipeline_env(ROOT), capture_output=True, text=True, check=True).stdout.strip()
    assert printed.endswith("False"), f"shap was imported: {printed}"
    assert "'Sum of 3 other features']" in printed and printed.count("'c") == 14, printed
    monkeypatch.setattr(sys, "argv", ["", str(tmp_path / "b.png")])
    exec(BEESWARM_PROBE, {})  # a second run, in this process
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
