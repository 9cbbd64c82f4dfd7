"""The real pipeline, run by the real ``dvc exp run`` in a temp copy of the repo."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import pipeline_env, run

# The session's `default_run` (a full pipeline) is built once per test run, whatever the worker.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("default-run")]

CLASSIFICATION_METRICS = {"accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc", "log_loss"}


def metrics(repo: Path) -> dict:
    return json.loads((repo / "metrics" / "evaluate.json").read_text())


def test_default_pipeline_produces_every_output(default_run: Path) -> None:
    scores = metrics(default_run)
    assert set(scores) == CLASSIFICATION_METRICS | {"threshold", "f1_at_0.5"}
    assert scores["roc_auc"] > 0.75, "the synthetic data carries real signal"
    # The decision threshold chosen on validation rows of the train split (evaluate.threshold: f1)
    # labels the test rows, and the package applies it.
    chosen = json.loads((default_run / "metrics" / "threshold.json").read_text())
    assert chosen["validation_rows"] == 3200 and chosen["validation_f1"] > chosen["validation_f1_at_0.5"]
    assert scores["threshold"] == chosen["threshold"] < 0.5 and scores["f1"] > scores["f1_at_0.5"]
    assert json.loads((default_run / "models/package/artifacts/metadata.json").read_text())["threshold"] == chosen["threshold"]
    stats = json.loads((default_run / "metrics" / "data.json").read_text())
    assert stats["rows"] == {"train": 16000, "test": 4000, "total": 20000}
    assert 0.08 < stats["class_balance"]["1"] < 0.12
    for out in (
        "data/prepared/train.parquet",
        "data/features/test.parquet",
        "models/featurizer.joblib",
        "models/model.joblib",
        "models/package/MLmodel",
    ):
        assert (default_run / out).exists(), out
    for plot in ("roc.json", "precision_recall.json", "confusion_matrix.json"):
        assert (default_run / "metrics/evaluate/plots/sklearn" / plot).exists()
    assert list((default_run / "metrics/train/plots/metrics").glob("*.tsv")), "LightGBM rounds are logged"
    # The global explanation: mean |contribution| per RAW column (one-hot columns summed back) and a beeswarm PNG.
    summary = json.loads((default_run / "metrics/evaluate/plots/custom/explanation.json").read_text())
    raw_columns = json.loads((default_run / "data/prepared/schema.json").read_text())["columns"]
    assert {row["column"] for row in summary} == {c["name"] for c in raw_columns if c["role"] == "feature"}
    assert summary[0]["column"] == "credit_score" and summary[0]["mean_abs_contribution"] > 0
    assert (default_run / "metrics/evaluate/plots/images/explanation_beeswarm.png").read_bytes().startswith(b"\x89PNG")
    declared = (default_run / "metrics/plots/evaluate/dvc.yaml").read_text()
    assert "plots/custom/explanation.json" in declared and "plots/images/explanation_beeswarm.png" in declared


def test_prepare_writes_the_data_quality_report_and_prints_its_warnings(default_run: Path) -> None:
    quality = default_run / "reports/quality"
    assert {p.name for p in quality.iterdir()} == {"quality.json", "index.html", "histograms.png", "target.png", "leakage.png", "time.png"}
    report = json.loads((quality / "quality.json").read_text())
    # The default recipe splits at random over application_date: one time-order warning, no leak.
    found = [(f["check"], f["column"], f["severity"]) for f in report["findings"]]
    assert found == [("time_order", "application_date", "warning")], found
    assert 0 < report["columns"]["income"]["missing_rate"] < 0.2 and report["columns"]["region"]["distinct"] == 5
    assert max(report["leakage"]["single_feature_score"]["scores"].values()) < 0.98
    assert 0.08 < report["target"]["balance"]["1"] < 0.12
    log = (default_run.parent / "exp-run.log").read_text()
    assert "warning: data quality: column 'application_date': time_order:" in log
    profile = json.loads((default_run / "metrics/data_profile.json").read_text())
    assert profile["distinct"]["customer_id"] == 20000 and profile["findings"] == {"leakage": 1, "other": 0}


def test_package_loads_in_a_fresh_process_and_scores_raw_rows(default_run: Path) -> None:
    code = (
        "import mlflow.pyfunc, pandas as pd\n"
        "m = mlflow.pyfunc.load_model('models/package')\n"
        "raw = pd.read_parquet('data/prepared/test.parquet').drop(columns=['default']).head(5)\n"
        "out = m.predict(raw)\n"
        "print(list(out.columns)); assert len(out) == 5\n"
        "assert ((out.proba_0 + out.proba_1 - 1).abs() < 1e-9).all()\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=default_run, env=pipeline_env(default_run), capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "['prediction', 'proba_0', 'proba_1']" in proc.stdout


def test_dvc_commands_report_the_experiment(default_run: Path) -> None:
    shown = run(["dvc", "exp", "show", "--json"], default_run).stdout
    assert "roc_auc" in shown
    assert "roc_auc" in run(["dvc", "metrics", "show"], default_run).stdout
    assert "Data and pipelines are up to date" in run(["dvc", "status"], default_run).stdout


# `dvc exp show --csv` of the default run: 197 columns before the data contract (36 params)
# and the per-column missing rates (7 metrics) moved out of params.yaml and the metrics files.
# What remains is mostly one column per stage dependency (64 of them: dvc.yaml lists every module).
# 158 after the move; wave 2 added data.quality (6 params), feature views, the split and time
# features (11), tune.families, evaluate.extra_metrics, the uplift gate (5) and their stage deps.
# 208 after the daily loop's threshold (metrics/threshold.json, f1_at_0.5), compute=dask (4
# params) and the fine-tune and Dask modules as stage deps.
# 220 after the model kinds: the wrapper, Lightning, LLM-graph and tuning-process modules, conf/llm
# and the golden sets as stage deps (no new params: one column per new dep).
EXP_SHOW_COLUMNS = 224  # room for a few new stage deps (`mmp exps` is the legible view)


def test_exp_show_stays_legible_and_mmp_exps_fits_120_columns(default_run: Path) -> None:
    header = next(csv.reader(io.StringIO(run(["dvc", "exp", "show", "--csv"], default_run).stdout)))
    flooding = [c for c in header if ".contract." in c or "missing_rate" in c]
    assert not flooding, f"the contract and the per-column profile stay out of dvc exp show: {flooding[:5]}"
    assert len(header) <= EXP_SHOW_COLUMNS, f"dvc exp show has {len(header)} columns"
    assert "income" in json.loads((default_run / "metrics/data_profile.json").read_text())["missing_rate"]
    shown = json.loads(run(["dvc", "exp", "show", "--json"], default_run).stdout)
    names = [e["name"] for base in shown for e in base.get("experiments") or []]
    out = run([sys.executable, "-m", "mmp", "exps"], default_run, COLUMNS="120").stdout
    assert names and all(name in out for name in names), out
    assert max(map(len, out.splitlines())) <= 120, out
    assert "roc_auc" in out.splitlines()[0]


def test_the_first_run_in_a_fresh_clone_warns_about_nothing(default_run: Path) -> None:
    """A fresh clone carries dvc.lock: its first run has a hash for every output it checks out
    (none were "No file hash info found ... It won't be created")."""
    log = (default_run.parent / "exp-run.log").read_text()
    assert "No file hash info found" not in log, log
