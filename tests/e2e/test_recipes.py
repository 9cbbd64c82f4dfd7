"""Every shipped recipe (data, features, model, experiment) runs end to end on small data, a new
model recipe needs no code change, and a planted secret never reaches any output."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import pandas as pd
import pytest
import yaml

from mmp.modeling.tasks import metric_names
from mmp.ops.params import compose
from tests.conftest import ROOT, run

pytestmark = pytest.mark.slow

FAST = ["data.rows=2000"]
TORCH_FAST = ["model.hyperparameters.epochs=4"]
# (overrides) covering every file in conf/data (but the SQL one, below), conf/model, conf/features
# and conf/experiment at least once.
RECIPES = [
    ["model=lightgbm", "features=robust", "model.hyperparameters.n_estimators=30"],
    ["model=logistic_regression", "features=interactions"],
    ["model=random_forest", "model.hyperparameters.n_estimators=30"],
    ["model=voting"],
    ["model=stacking"],
    ["model=mlp", *TORCH_FAST],
    ["+experiment=tab_transformer", *TORCH_FAST],
    ["+experiment=lightning_tab_transformer", *TORCH_FAST],
    ["+experiment=robust_features", "model.hyperparameters.n_estimators=30"],
    ["data=breast_cancer", "model=lightgbm", "model.hyperparameters.n_estimators=30"],
    ["+experiment=iris"],
    ["data=wine", "model=random_forest", "model.hyperparameters.n_estimators=30"],
    ["+experiment=diabetes", "model.hyperparameters.n_estimators=30"],
    ["data=diabetes", "model=ridge"],
    ["data=diabetes", "model=random_forest_regressor", "model.hyperparameters.n_estimators=30"],
    ["data=diabetes", "model=mlp_regressor", *TORCH_FAST],
    ["+experiment=linnerud"],
    ["data=linnerud", "model=tab_transformer_regressor", "features.numeric.scale=none", *TORCH_FAST],
    ["model=xgboost", "model.hyperparameters.n_estimators=30"],
    ["model=catboost", "model.hyperparameters.iterations=30"],
]


def run_stages(params: Path, out: Path) -> None:
    """Every stage of dvc.yaml, in order and in process, with its own command line and each
    ``${paths.x}`` moved under ``out`` (so this test follows the graph as it changes)."""
    import importlib
    import shlex

    from mmp.pipeline.stages.__main__ import COMMANDS

    graph = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    paths = next(v["paths"] for v in graph["vars"] if "paths" in v)
    for stage in graph["stages"].values():
        cmd = stage["cmd"]
        for name, path in paths.items():
            cmd = cmd.replace(f"${{paths.{name}}}", str(out / path))
        _python, _m, _launcher, name, *args = shlex.split(cmd)  # python -m mmp.pipeline.stages NAME ...
        module, prefix = COMMANDS[name]
        if prefix:
            continue  # the mirror stage (`mmp mirror`): it records a DVC run in MLflow, and there is none here
        importlib.import_module(module).main([*args, "--params", str(params)])


@pytest.mark.parametrize("overrides", RECIPES, ids=lambda o: " ".join(o))
def test_every_shipped_recipe_runs_end_to_end(overrides: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMP_MIRROR", "false")  # no DVC run to mirror: a Lightning train logs to dvclive only
    raw = yaml.safe_load(compose(ROOT, [*FAST, *overrides]))
    library = raw["model"]["class_path"].split(".")[0]
    if library in ("xgboost", "catboost"):
        pytest.importorskip(library, reason=f"optional extra: pip install -e '.[{library}]'")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    run_stages(tmp_path / "params.yaml", tmp_path)

    task, targets = raw["data"]["task_type"], raw["data"]["target_col"]
    scores = json.loads((tmp_path / "metrics/evaluate.json").read_text())
    assert set(metric_names(task)) <= set(scores)
    if task == "multiclass":
        assert len(scores["per_class"]) == 3 and len(list((tmp_path / "metrics/evaluate/plots/sklearn/roc_ovr").glob("*.json"))) == 3
    if task == "regression":
        assert (tmp_path / "metrics/evaluate/plots/custom/residuals.json").exists()
        if isinstance(targets, list):
            assert set(scores["per_target"]) == set(targets)
    elif task == "binary":  # threshold-free: the F1-chosen cut-off of a weak model flags many rows
        assert scores["roc_auc"] > 0.5
    else:
        assert scores["accuracy"] > 0.5

    from mmp.inference.scorer import Scorer  # the packaged artifacts score raw rows

    art = tmp_path / "models" / "package" / "artifacts"
    scorer = Scorer.load(
        {
            name: str(art / f"{name}.{'json' if name in ('schema', 'metadata') else 'joblib'}")
            for name in ("featurizer", "model", "schema", "metadata")
        }
    )
    raw_rows = pd.read_parquet(tmp_path / "data" / "prepared" / "test.parquet").head(5)
    assert len(scorer.predict(raw_rows)) == 5


def test_a_new_model_and_a_minimal_data_config_run_without_touching_src(repo_copy: Path) -> None:
    """A new model recipe and a data config that gives only source_uri, target_col and task_type
    (every other key from conf/schema/data.yaml), on a CSV the project does not generate:
    scikit-learn's breast cancer table, written by the test. One real `dvc exp run` covers both."""
    from sklearn.datasets import load_breast_cancer

    (repo_copy / "data/raw").mkdir(parents=True, exist_ok=True)
    load_breast_cancer(as_frame=True).frame.rename(columns={"target": "benign"}).to_csv(repo_copy / "data/raw/cancer.csv", index=False)
    (repo_copy / "conf/data/cancer.yaml").write_text("source_uri: data/raw/cancer.csv\ntarget_col: benign\ntask_type: binary\n")
    (repo_copy / "conf/model/extra_trees.yaml").write_text(
        "class_path: sklearn.ensemble.ExtraTreesClassifier\nhyperparameters:\n  n_estimators: 40\n  max_depth: {type: int, low: 3, high: 12, default: 6}\n"
    )
    run(["dvc", "exp", "run", "-S", "data=cancer", "-S", "model=extra_trees"], repo_copy)
    assert json.loads((repo_copy / "metrics/evaluate.json").read_text())["roc_auc"] > 0.9
    assert "ExtraTreesClassifier" in (repo_copy / "models/package/artifacts/metadata.json").read_text()
    assert yaml.safe_load((repo_copy / "params.yaml").read_text())["data"]["time_col"] is None
    changed = subprocess.run(["git", "status", "--porcelain", "src"], cwd=repo_copy, capture_output=True, text=True, check=True).stdout
    assert changed == ""


def test_uplift_experiment_runs_end_to_end_and_its_package_serves_effects(repo_copy: Path) -> None:
    """`-S +experiment=uplift`: a T-learner on the synthetic campaign, by configuration alone.
    Its metrics (Qini, AUUC, PEHE against the known effect), the Qini PNG declared for `dvc plots`,
    an input schema without the treatment or the true effect, and the effect over HTTP."""
    from fastapi.testclient import TestClient

    from mmp.serving.app import create_app

    small = "model.hyperparameters.estimator.hyperparameters.n_estimators=50"
    run(["dvc", "exp", "run", "-S", "+experiment=uplift", "-S", "data.rows=2000", "-S", small], repo_copy)
    scores = json.loads((repo_copy / "metrics/evaluate.json").read_text())
    assert set(scores) >= {"qini", "auuc", "pehe"} and scores["qini"] > 0 and scores["auuc"] > 0.5
    plots = (repo_copy / "metrics/plots/evaluate/dvc.yaml").read_text()
    assert "qini_curve.png" in plots and "uplift_by_decile" in plots
    assert (repo_copy / "metrics/evaluate/plots/images/qini_curve.png").read_bytes()[:4] == b"\x89PNG"
    package = repo_copy / "models/package"
    schema = json.loads((package / "artifacts/schema.json").read_text())
    assert schema["task_type"] == "uplift" and not {"treatment", "true_effect", "spend"} & {c["name"] for c in schema["columns"]}
    rows = pd.read_parquet(repo_copy / "data/prepared/test.parquet").head(3).drop(columns=["treatment", "true_effect", "spend"])
    body = TestClient(create_app(str(package), env={})).post("/predict", json=rows.to_dict(orient="records")).json()
    assert len(body["effects"]) == 3 and body["predictions"] == body["effects"]


@pytest.mark.integration
def test_a_planted_secret_never_reaches_any_output(repo_copy: Path) -> None:
    """The SQL recipe connects with a password from the environment (PostgreSQL on 127.0.0.1,
    trust auth accepts any password); no file the pipeline writes may contain it."""
    import sqlalchemy as sa

    from tests.unit.test_sql_source import fresh_postgres

    secret = f"planted-secret-{uuid.uuid4().hex}"
    with fresh_postgres() as url:
        engine = sa.create_engine(url)
        rows = pd.DataFrame(
            {
                "id": range(400),
                "region": ["north", "south"] * 200,
                "amount": [float(i % 37) for i in range(400)],
                "label": [int(i % 37 > 20) for i in range(400)],
            }
        )
        rows.assign(created=pd.date_range("2024-01-01", periods=400, freq="D")).to_sql("loans", engine, index=False)
        engine.dispose()
        with_secret = sa.make_url(url).set(password=secret).render_as_string(hide_password=False)
        run(
            ["dvc", "exp", "run", "-S", "data=loans_sql", "-S", "model.hyperparameters.n_estimators=20"],
            repo_copy,
            MMP_WAREHOUSE_URL=with_secret,
        )
        proc = run(["dvc", "exp", "show", "--json"], repo_copy, MMP_WAREHOUSE_URL=with_secret)
        assert secret not in proc.stdout
        leaks = [
            str(p.relative_to(repo_copy))
            for p in repo_copy.rglob("*")
            if p.is_file() and ".git" not in p.parts and secret.encode() in p.read_bytes()
        ]
        assert leaks == []
        assert json.loads((repo_copy / "metrics/data.json").read_text())["rows"]["total"] == 400


def test_sql_snapshot_reruns_downstream_only_when_the_rows_change(repo_copy: Path) -> None:
    """Forcing prepare re-reads the query; its snapshot (data/prepared) hashes the same when the
    rows did not change, so featurize stays up to date; new rows make it stale."""
    import sqlalchemy as sa

    db = repo_copy / "warehouse.db"
    rows = pd.DataFrame(
        {
            "id": range(300),
            "region": ["north", "south", "east"] * 100,
            "amount": [float(i % 29) for i in range(300)],
            "label": [int(i % 29 > 14) for i in range(300)],
        }
    )
    engine = sa.create_engine(f"sqlite:///{db}")
    rows.assign(created=pd.date_range("2024-01-01", periods=300, freq="D").astype(str)).to_sql("loans", engine, index=False)
    env = {"MMP_WAREHOUSE_URL": f"sqlite:///{db}"}
    run(["mmp", "params", "data=loans_sql", "model=logistic_regression"], repo_copy)
    run(["dvc", "repro"], repo_copy, **env)
    run(["dvc", "repro", "--force", "--single-item", "prepare"], repo_copy, **env)
    assert "up to date" in run(["dvc", "status"], repo_copy, **env).stdout
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO loans VALUES (999, 'north', 3.0, 1, '2025-01-01')"))
    engine.dispose()
    run(["dvc", "repro", "--force", "--single-item", "prepare"], repo_copy, **env)
    assert "featurize" in run(["dvc", "status"], repo_copy, **env).stdout
