"""Drift statistics on tiny in-memory frames: a planted shift is found in its column only."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mmp.core.errors import MMPError
from mmp.core.monitor import MonitorConfig, load_monitor
from mmp.inference.drift import chi2_pvalue, column_kinds, drift_report, js_distance, ks, psi
from tests.conftest import ROOT

CFG = MonitorConfig()


def frame(rows: int, seed: int, income_shift: float = 0.0, region_p: tuple[float, ...] = (0.4, 0.3, 0.2, 0.1)) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.normal(40, 10, rows),
            "income": rng.lognormal(10, 0.5, rows) * (1 + income_shift),
            "late": rng.poisson(1.0, rows),
            "region": rng.choice(["north", "south", "east", "west"], rows, p=region_p),
            "owner": rng.choice(["rent", "own"], rows),
        }
    )


def test_psi_on_a_hand_computable_case() -> None:
    # two bins split at the reference median 2.5: the reference has half its rows in each,
    # the current 3/4 below: PSI = (.75-.5) ln(.75/.5) + (.25-.5) ln(.25/.5)
    expected = 0.25 * math.log(1.5) + 0.25 * math.log(2)
    assert psi(np.array([1.0, 2, 3, 4]), np.array([1.0, 1, 2, 4]), bins=2) == pytest.approx(expected)
    assert psi(np.array([1.0, 2, 3, 4]), np.array([1.0, 2, 3, 4]), bins=2) == 0.0


def test_psi_floors_empty_bins_and_counts_missing_values_as_a_bin() -> None:
    ref = np.arange(100, dtype=float)
    assert np.isfinite(psi(ref, np.full(50, 1000.0)))  # every current row in one bin: no log(0)
    assert psi(ref, np.append(ref, np.full(100, np.nan))) > 0.2  # half the rows now missing


def test_category_statistics_handle_unseen_categories() -> None:
    ref, cur = np.array([50, 50, 0]), np.array([25, 25, 50])  # the third category is new
    assert js_distance(ref, cur) > 0.3 and chi2_pvalue(ref, cur) < 1e-6
    assert js_distance(ref, ref) == 0.0 and chi2_pvalue(ref, ref) == pytest.approx(1.0)


def test_a_planted_shift_is_found_in_its_column_and_nowhere_else() -> None:
    reference = frame(3000, 1)
    current = frame(2000, 2, income_shift=0.6, region_p=(0.1, 0.2, 0.3, 0.4))
    report = drift_report(reference, current, column_kinds(reference), CFG)
    assert report.drifted == ["income", "region"]
    by_name = {c.column: c for c in report.columns}
    assert by_name["income"].kind == "numeric" and by_name["income"].statistic == "psi" and by_name["income"].value > 0.2
    assert by_name["region"].kind == "categorical" and by_name["region"].statistic == "js"
    assert by_name["late"].kind == "numeric" and by_name["owner"].kind == "categorical"
    assert set(by_name["income"].statistics) == {"psi", "ks", "ks_statistic"}
    assert report.to_json()["drifted_columns"] == ["income", "region"]


def test_identical_data_does_not_drift_under_any_gate() -> None:
    data = frame(2000, 3)
    for gate in ({"numeric": "psi", "categorical": "js"}, {"numeric": "ks", "categorical": "chi2"}):
        cfg = MonitorConfig.model_validate({"gate": gate})
        assert drift_report(data, data.copy(), column_kinds(data), cfg).drifted == []


def test_prediction_drift_and_skipped_columns() -> None:
    reference, current = frame(500, 4), frame(500, 5).drop(columns=["owner"])
    scores = (pd.Series(np.linspace(0, 0.5, 500)), pd.Series(np.linspace(0.5, 1, 500)))
    report = drift_report(reference, current, column_kinds(reference), CFG, scores)
    assert report.prediction is not None and report.prediction.drifted and report.drifted == ["prediction"]
    assert report.skipped == {"owner": "not in the current data"}


def test_too_few_rows_is_one_clear_error() -> None:
    with pytest.raises(MMPError, match=r"--current: has 10 rows.*min_rows=100"):
        drift_report(frame(200, 1), frame(10, 1), {"age": "numeric"}, CFG)


def test_ks_p_value_is_small_only_for_a_real_shift() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 1, 1000), rng.normal(0, 1, 1000)
    assert ks(a, b)[1] > 0.01 and ks(a, b + 0.5)[1] < 1e-6


def test_monitor_config_comes_from_conf_with_overrides() -> None:
    cfg = load_monitor(ROOT, "default", ["thresholds.psi=0.3", "gate.numeric=ks"])
    assert cfg.thresholds.psi == 0.3 and cfg.gate.numeric == "ks" and cfg.thresholds.js == 0.1
    with pytest.raises(MMPError, match="gate.numeric"):
        load_monitor(ROOT, "default", ["gate.numeric=js"])
    with pytest.raises(MMPError, match="--monitor"):
        load_monitor(ROOT, "nope")
    with pytest.raises(MMPError, match="--set"):
        load_monitor(ROOT, "default", ["thresholds.nope=1"])


def test_the_default_monitor_file_matches_the_typed_defaults() -> None:
    assert load_monitor(Path(ROOT)) == MonitorConfig()
