"""One test over every shipped model kind: the ModelWrapper contract end to end. Each kind is
trained on tiny data, packaged, loaded in a fresh process with plain ``mlflow.pyfunc.load_model``
(its predictions must equal the in-process wrapper's) and served over HTTP by ``mmp serve``.

A new kind is one line in :data:`KINDS_UNDER_TEST`: a function that trains it into a package
(see tests/contract/conftest.py)."""

from __future__ import annotations

import math
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
import yaml

from mmp.inference.wrapper import ModelWrapper, load_wrapper, package_kind
from tests.contract.conftest import Trained, echo, kind_env, llm, served, tabular

pytestmark = pytest.mark.slow

KINDS_UNDER_TEST = [
    pytest.param(tabular("lightgbm.LGBMClassifier", n_estimators=20, num_leaves=7, n_jobs=1, verbose=-1), id="lightgbm"),
    pytest.param(tabular("mmp.modeling.models.mlp.MLPClassifier", hidden_layers=[16], epochs=2, batch_size=64, device="cpu"), id="mlp"),
    pytest.param(
        tabular("mmp.modeling.models.lightning.LightningMLPClassifier", hidden_layers=[16], epochs=2, batch_size=64, device="cpu"),
        id="lightning_mlp",
    ),
    pytest.param(llm, id="llm_graph"),  # +experiment=llm_qa with the scripted offline chat model
    pytest.param(echo, id="echo"),  # a kind named by import path, outside mmp: serving and batch need no change for it
]

# a fresh interpreter that knows nothing of the test: plain MLflow, the package, the rows
LOAD_AND_PREDICT = """
import sys, mlflow.pyfunc, pandas as pd
model = mlflow.pyfunc.load_model(sys.argv[1])
model.predict(pd.read_parquet(sys.argv[2])).to_parquet(sys.argv[3])
"""


@pytest.mark.parametrize("build", KINDS_UNDER_TEST)
def test_a_kind_trains_packages_loads_with_plain_mlflow_and_serves(build: Callable[[Path], Trained], tmp_path: Path) -> None:
    trained = build(tmp_path / "package")
    model = trained.model
    assert isinstance(model, ModelWrapper)
    inputs = trained.rows[model.schema.feature_names].reset_index(drop=True)
    expected = model.predict(inputs)
    assert list(expected.columns) == model.output_columns and len(expected) == len(inputs)
    scores = model.evaluate(trained.rows)
    assert scores and all(math.isfinite(v) for v in scores.values()), scores

    # the package names its kind in metadata.json and in MLmodel, and loads back as that kind
    mlmodel = yaml.safe_load((trained.package / "MLmodel").read_text())
    assert mlmodel["metadata"]["kind"] == package_kind(model.metadata) == load_wrapper(trained.package).metadata["kind"]

    inputs.to_parquet(tmp_path / "rows.parquet")
    cmd = [sys.executable, "-c", LOAD_AND_PREDICT, str(trained.package), str(tmp_path / "rows.parquet"), str(tmp_path / "out.parquet")]
    fresh = subprocess.Popen(cmd, cwd=tmp_path, env=kind_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    record = {name: model.schema.example[name] for name in model.features}
    with served(trained.package) as url:  # starts while the fresh process loads
        answer = httpx.post(f"{url}/predict", json=record, timeout=30)
    out, _ = fresh.communicate(timeout=120)
    assert fresh.returncode == 0, out
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "out.parquet"), expected)

    assert answer.status_code == 200, answer.text
    body, one = answer.json(), model.predict(pd.DataFrame([record]))
    assert body["predictions"] == one[one.columns[0]].tolist()
    for name, values in body.get("probabilities", [{}])[0].items():
        assert values == pytest.approx(one[f"proba_{name}"].iloc[0], abs=1e-6)


def test_the_tabular_kind_evaluates_raw_rows_as_the_evaluate_step_does() -> None:
    """``Scorer.train`` fits what the featurize and train steps fit, and ``Scorer.evaluate`` on
    raw labelled rows gives the evaluate step's metrics on the same rows featurized."""
    from mmp.data.synthetic import credit_default
    from mmp.inference.scorer import Scorer
    from mmp.modeling.features import transform
    from mmp.pipeline import steps
    from tests.serving.conftest import small_params

    params = small_params()
    prepared = steps.prepare(credit_default(300, 7), params.data, params.seed)
    scorer = Scorer.train(prepared.train, params)
    assert isinstance(scorer, ModelWrapper) and scorer.metadata["kind"] == "tabular"
    featurized = steps.featurize(prepared.train, prepared.test, params)
    model = steps.train(featurized.train, params)
    raw_test = prepared.test[scorer.features]
    np.testing.assert_array_equal(
        model.predict_proba(featurized.test.drop(columns=params.data.label_cols)),
        scorer.model.predict_proba(transform(scorer.featurizer, raw_test)),
    )
    by_step = steps.evaluate(featurized.test, model, params, threshold=scorer.threshold)
    by_kind = scorer.evaluate(prepared.test)
    assert by_kind.keys() <= by_step.keys() and {"roc_auc", "f1", "accuracy"} <= by_kind.keys()
    assert by_kind == pytest.approx({k: by_step[k] for k in by_kind})
