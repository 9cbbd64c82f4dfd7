"""``mmp synth``: fit the distribution model to training rows (columns named by params.yaml), sample
a drifted day from it, check the sample's fidelity; bad input is one line and writes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from mmp.cli import build_parser
from mmp.data.synthetic import credit_default
from tests.conftest import mmp


def test_fit_sample_and_fidelity(tmp_path: Path) -> None:
    credit_default(600, 0).to_parquet(tmp_path / "train.parquet")
    dist = tmp_path / "distribution"
    fit = mmp("synth", "fit", "--input", str(tmp_path / "train.parquet"), "--output", str(dist))
    assert "copulas: one for all rows" in fit.stdout  # target, time and id columns from params.yaml
    assert sorted(p.name for p in dist.iterdir()) == ["copula.json", "fidelity.json", "fidelity.png"]
    saved = json.loads((dist / "copula.json").read_text())
    assert saved["sha256"][:12] in fit.stdout and saved["model"]["time_col"] == "application_date"
    assert json.loads((dist / "fidelity.json").read_text())["correlation_distance"] < 0.1

    day6, day7 = tmp_path / "day6.parquet", tmp_path / "day7.csv"
    mmp("synth", "sample", "--model", str(dist), "--date", "2026-01-06", "--scenario", "drift", "--rows", "300", "--output", str(day6))
    mmp("synth", "sample", "--model", str(dist), "--date", "2026-01-07", "--scenario", "drift", "--rows", "300", "--output", str(day7))
    rows6, rows7 = pd.read_parquet(day6), pd.read_csv(day7)
    assert len(rows6) == len(rows7) == 300 and set(rows7["application_date"]) == {"2026-01-07"}
    assert rows7["credit_score"].median() > rows6["credit_score"].median() + 30  # the drift scenario starts on day 7

    check = mmp(
        "synth",
        "fidelity",
        "--real",
        str(tmp_path / "train.parquet"),
        "--synthetic",
        str(day7),
        "--model",
        str(dist),
        "--output",
        str(tmp_path / "fid"),
    )
    assert "worst column credit_score" in check.stdout
    assert json.loads((tmp_path / "fid" / "fidelity.json").read_text())["synthetic_rows"] == 300

    bad = mmp(
        "synth",
        "sample",
        "--model",
        str(dist),
        "--date",
        "2026-01-07",
        "--knob",
        "mean_shift.nope=1",
        "--output",
        str(tmp_path / "x.parquet"),
        check=False,
    )
    assert bad.returncode == 2 and "knobs.mean_shift.nope: names a column the distribution model does not have" in bad.stderr
    assert "Traceback" not in bad.stderr and not (tmp_path / "x.parquet").exists()


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    for action in ("fit", "sample", "fidelity"):
        with pytest.raises(SystemExit):
            build_parser().parse_args(["synth", action, "--help"])
        assert capsys.readouterr().out.startswith(f"usage: mmp synth {action}")
