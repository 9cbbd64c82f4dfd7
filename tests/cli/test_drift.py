"""``mmp drift``: a planted shift in one column is reported in that column only, from files, a
prediction log directory and a model's packaged reference sample; the report is written whole."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from mmp.data.prediction_log import TIME
from mmp.inference.reference import REFERENCE_FILE, log_columns
from mmp.inference.scorer import Scorer
from tests.conftest import mmp
from tests.serving.conftest import sample_frame

FEATURES = [
    "age",
    "income",
    "loan_amount",
    "loan_term_months",
    "credit_score",
    "debt_to_income",
    "num_late_payments",
    "employment_type",
    "region",
    "home_ownership",
    "first_credit_date",
]


def report(out: Path) -> dict:
    assert sorted(p.name for p in out.iterdir() if not p.name.endswith(".png") or p.name == "summary.png") == [
        "drift.json",
        "index.html",
        "summary.png",
    ]
    assert "data:image/png;base64," in (out / "index.html").read_text()  # self-contained, offline
    return json.loads((out / "drift.json").read_text())


def test_files_a_planted_category_shift_drifts_that_column_only(tmp_path: Path) -> None:
    reference, current = sample_frame(1500, seed=1), sample_frame(1000, seed=2)
    current["region"] = current["region"].where(current.index % 5 < 2, "north")  # 60% more "north"
    reference.to_parquet(tmp_path / "ref.parquet")
    current.to_csv(tmp_path / "cur.csv", index=False)
    out = tmp_path / "report"
    args = ["drift", "--reference", str(tmp_path / "ref.parquet"), "--current", str(tmp_path / "cur.csv"), "--output", str(out)]
    proc = mmp(*args, "--exclude", "customer_id", check=False)

    assert proc.returncode == 3, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == f"drift: 1 of 13 drifted: region (report: {out})"
    got = report(out)
    assert got["drifted_columns"] == ["region"] and got["prediction"] is None
    region = next(c for c in got["columns"] if c["column"] == "region")
    assert region["kind"] == "categorical" and region["statistic"] == "js" and region["threshold"] == 0.1 and region["drifted"]
    assert {c["column"] for c in got["columns"] if not c["drifted"]} >= {"age", "income", "employment_type", "application_date"}
    assert (out / "region.png").is_file() and not (out / "age.png").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cur.csv", "ref.parquet", "report"]  # no temporary left

    bad = mmp(*args, "--set", "thresholds.psi=-1", check=False)  # a bad threshold: one line, exit 2
    assert bad.returncode == 2 and "monitor.thresholds.psi" in bad.stderr.splitlines()[0]


def test_model_reference_against_a_prediction_log_directory(package_dir: Path, tmp_path: Path) -> None:
    assert len(pd.read_parquet(package_dir / REFERENCE_FILE).columns) == len(FEATURES) + 2  # + mmp_prediction, mmp_score
    rows = sample_frame(1000, seed=3).drop(columns=["default"])
    rows["loan_amount"] *= 3  # the planted shift
    log = rows.join(log_columns(Scorer.from_package(package_dir), rows))
    log[TIME] = pd.date_range("2024-01-01", periods=len(log), freq="h", tz="UTC")
    (tmp_path / "log").mkdir()
    log.iloc[:500].to_parquet(tmp_path / "log" / "part-0.parquet")
    log.iloc[500:].to_parquet(tmp_path / "log" / "part-1.parquet")
    out = tmp_path / "report"
    proc = mmp(
        "drift",
        "--reference",
        str(package_dir),
        "--current",
        str(tmp_path / "log"),
        "--since",
        "2024-01-05",
        "--output",
        str(out),
        check=False,
    )

    assert proc.returncode == 3, proc.stderr
    got = report(out)
    assert got["current_rows"] == 1000 - 4 * 24 and got["reference_rows"] == 1600  # the package's train split
    assert [c["column"] for c in got["columns"]] == FEATURES  # the model's features: no id, no time
    assert [c["column"] for c in got["columns"] if c["drifted"]] == ["loan_amount"]
    assert got["prediction"]["column"] == "prediction" and got["prediction"]["kind"] == "numeric"  # on mmp_score


def test_model_reference_scores_a_plain_file_and_finds_no_drift(package_dir: Path, tmp_path: Path) -> None:
    sample_frame(800, seed=4).to_parquet(tmp_path / "new.parquet")
    proc = mmp(
        "drift",
        "--reference",
        str(package_dir),
        "--current",
        str(tmp_path / "new.parquet"),
        "--output",
        str(tmp_path / "r"),
        "--set",
        "thresholds.psi=0.3",
    )
    assert proc.stdout.strip() == f"no drift in 12 columns (report: {tmp_path / 'r'})"
    got = report(tmp_path / "r")
    assert not got["drifted"] and got["prediction"]["drifted"] is False and got["prediction"]["threshold"] == 0.3


def test_current_rows_from_a_sql_query_with_bound_parameters(tmp_path: Path) -> None:
    import argparse

    from sqlalchemy import create_engine

    from mmp.cli.drift import read_current

    engine = create_engine(f"sqlite:///{tmp_path / 'log.db'}")
    pd.DataFrame({"age": [30.0, 40.0, 50.0], "region": ["north", "south", "east"]}).to_sql("predictions", engine, index=False)
    engine.dispose()
    args = argparse.Namespace(
        query="SELECT * FROM predictions WHERE age >= :low",
        param=["low=40"],
        db_url=f"sqlite:///{tmp_path / 'log.db'}",
        current=None,
        since=None,
        until=None,
    )
    assert read_current(args)["region"].tolist() == ["south", "east"]
