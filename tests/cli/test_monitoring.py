"""``mmp label`` and ``mmp ab-report`` as commands, on a synthetic Parquet log where the challenger
is clearly better: labels joined (unknown ids reported), the report written."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from tests.conftest import mmp
from tests.unit.test_ab import synthetic_log


def test_label_then_ab_report(tmp_path: Path) -> None:
    truth = synthetic_log(tmp_path / "log", per_arm=150)
    pd.concat([truth, pd.DataFrame([{"mmp_request_id": "ghost", "mmp_row": 0, "mmp_label": 1}])]).to_parquet(tmp_path / "labels.parquet")
    log = str(tmp_path / "log")
    labelled = mmp("label", "--input", str(tmp_path / "labels.parquet"), "--log", log)
    assert f"labelled 300 logged rows in {log} from 300 of 301 labels; 1 labels have no logged row (first: ('ghost', 0))" in labelled.stdout
    report = mmp("ab-report", "--log", log, "--output", str(tmp_path / "ab"), "--resamples", "500")
    assert "the challenger is better" in report.stdout
    written = json.loads((tmp_path / "ab" / "ab.json").read_text())
    assert written["arms"]["challenger"]["rows"] == 150 and written["test"]["significant"]
    assert (tmp_path / "ab" / "ab.png").stat().st_size > 10_000
