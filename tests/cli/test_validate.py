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
        "--threshold",
        str(tmp_path / "threshold.json"),
        "--params",
        str(tmp_path / "params.yaml"),
    ]
    proc = run(cmd, ROOT, timeout=120, check=False)
    assert proc.returncode == 2
    assert "model.hyperparameters.max_depht: LGBMClassifier does not accept" in proc.stderr
    assert not out.exists()


def test_validate_checks_hyperparameter_values_and_suggests_names() -> None:
    overrides = ["model.hyperparameters.n_estimators=abc", "+model.hyperparameters.min_chld_samples=3"]
    proc = run(["mmp", "validate", "--no-data", *overrides], ROOT, timeout=120, check=False)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert "error: model.hyperparameters.n_estimators: 'abc' is not a valid value for LGBMClassifier (allowed: int)" in lines
    misspelt = next(line for line in lines if "min_chld_samples" in line)
    assert "did you mean min_child_samples" in misspelt and len(misspelt) < 300
    assert "Traceback" not in proc.stderr


def test_tune_stage_checks_the_model_recipe_before_any_work(tmp_path: Path) -> None:
    """With tuning on, a broken model recipe fails the tune stage before it writes anything.
    With tuning off the stage only writes empty results and needs no estimator, so it does not
    import the model library to check the class (1.4 s a run): train refuses the recipe then."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["model"]["class_path"] = "lightgbm.LGBMClassifer"
    outputs = {"--best-params": tmp_path / "best.json", "--metrics": tmp_path / "tune.json", "--live": tmp_path / "live"}
    cmd = [sys.executable, "-m", "mmp.pipeline.stages.tune", "--features", str(tmp_path), "--prepared", str(tmp_path)]
    cmd += [str(a) for pair in outputs.items() for a in pair] + ["--params", str(tmp_path / "params.yaml")]
    for enabled, code in ((True, 2), (False, 0)):
        params["tune"]["enabled"] = enabled
        (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
        proc = run(cmd, ROOT, timeout=120, check=False)
        assert proc.returncode == code, proc.stdout + proc.stderr
        if enabled:
            assert "error: model.class_path: 'lightgbm' has no class 'LGBMClassifer'" in proc.stderr
            assert not any(path.exists() for path in outputs.values())


def test_an_empty_source_file_is_one_line(tmp_path: Path) -> None:
    """An empty source file gave a pandas traceback (issue 11, item 8): one line, exit 2. The
    other bad-data and bad-URL cases are MMPErrors tested in process (tests/unit/test_bad_data.py,
    test_db.py, test_sql_source.py); run_cli prints every MMPError this way."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    (tmp_path / "empty.csv").write_text("")
    params["data"]["source_uri"] = str(tmp_path / "empty.csv")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    proc = mmp("validate", "--params", str(tmp_path / "params.yaml"), check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert [line for line in proc.stderr.splitlines() if line.startswith("error: ")] == [
        f"error: data.source_uri: {tmp_path / 'empty.csv'} is empty: no header row and no data (allowed: a file with a header row)"
    ]
