"""``mmp validate`` end to end (composition, data loading, exit codes) and the stages running
the same validation before doing any work."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from tests.conftest import ROOT, mmp, run


def test_validate_passes_for_the_default_recipe() -> None:
    proc = run(["mmp", "validate", "data.rows=500"], ROOT, timeout=120)
    assert "passed validation" in proc.stdout


def test_validate_reports_every_problem_with_exit_2() -> None:
    overrides = [
        "data.target_col=nope",
        "features.numeric.scale=weird",
        "model.hyperparameters.num_leaves.low=500",
        "+model.hyperparameters.bogus=1",
        "data.rows=300",
    ]
    proc = run(["mmp", "validate", *overrides], ROOT, timeout=120, check=False)
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    keys = {line.split(":")[1].strip() for line in lines}
    assert {"data.target_col", "features.numeric.scale", "model.hyperparameters.num_leaves", "model.hyperparameters.bogus"} <= keys
    assert "Traceback" not in proc.stderr


def test_validate_reports_a_missing_source_file() -> None:
    proc = run(["mmp", "validate", "data.source_uri=data/raw/missing.csv"], ROOT, timeout=120, check=False)
    assert proc.returncode == 2
    assert "data.source_uri: file not found" in proc.stderr


def test_train_stage_validates_before_training(tmp_path: Path) -> None:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["model"]["hyperparameters"]["max_depht"] = 3
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    out = tmp_path / "model.joblib"
    cmd = [
        sys.executable,
        "-m",
        "mmp.pipeline.stages.train",
        "--features",
        str(tmp_path / "missing"),
        "--best-params",
        str(tmp_path / "missing.json"),
        "--out",
        str(out),
        "--live",
        str(tmp_path / "live"),
        "--params",
        str(tmp_path / "params.yaml"),
    ]
    proc = run(cmd, ROOT, timeout=120, check=False)
    assert proc.returncode == 2
    assert "model.hyperparameters.max_depht: LGBMClassifier does not accept" in proc.stderr
    assert not out.exists()


def test_bad_data_and_a_bad_database_url_are_one_line_each(tmp_path: Path) -> None:
    """An empty source file (a pandas traceback before) and a SQL source whose URL has a
    non-numeric port (a ValueError traceback before): one line, exit 2, no secret."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    (tmp_path / "empty.csv").write_text("")
    params["data"]["source_uri"] = str(tmp_path / "empty.csv")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    proc = mmp("validate", "--params", str(tmp_path / "params.yaml"), check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert [line for line in proc.stderr.splitlines() if line.startswith("error: ")] == [
        f"error: data.source_uri: {tmp_path / 'empty.csv'} is empty: no header row and no data (allowed: a file with a header row)"
    ]
    params["data"] |= {
        "source_uri": "sql://warehouse/queries/loans.sql.j2",
        "identifiers": {"table": "loans"},
        "allowed_identifiers": {"table": ["loans"]},
    }
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    proc = mmp(
        "validate", "--params", str(tmp_path / "params.yaml"), check=False, MMP_WAREHOUSE_URL="postgresql://u:s3cret@127.0.0.1:abc/db"
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "s3cret" not in proc.stderr
    assert [line for line in proc.stderr.splitlines() if line.startswith("error: ")] == [
        "error: databases.warehouse.url: the port is not a number (allowed: host:5432, or no port for the default)"
    ]
