"""``mmp label``'s join and ``mmp ab-report``'s analysis on a synthetic Parquet log where the
challenger is clearly better than the champion."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mmp.core.errors import MMPError
from mmp.data import prediction_log as L
from mmp.inference.predlog import Entry, ParquetSink, to_table
from mmp.ops.monitoring.ab import ab_report
from mmp.ops.monitoring.labels import label_parquet, read_labels


def synthetic_log(directory: Path, per_arm: int = 300, seed: int = 0) -> pd.DataFrame:
    """A binary log, 3 records per request: the champion right 70% of the time, the challenger
    (half of its rows logged as shadow) 90%. Returns the true labels by request id and row."""
    rng = np.random.default_rng(seed)
    sink = ParquetSink(directory, max_bytes=1, max_seconds=3600)  # a file per write: several files
    truth, entries = [], []
    for variant, accuracy in (("champion", 0.7), ("challenger", 0.9)):
        for r in range(per_arm // 3):
            y = rng.integers(0, 2, 3)
            pred = np.where(rng.random(3) < accuracy, y, 1 - y)
            p1 = np.where(pred == 1, 0.8, 0.2)
            rid = f"{variant}-{r}"
            shown = "shadow" if variant == "challenger" and r % 2 else variant
            inputs = {"customer_id": [f"{rid}-{i}" for i in range(3)], "age": [40.0, 50.0, 60.0]}
            outputs = {"prediction": pred, "proba_0": 1 - p1, "proba_1": p1}
            entries.append(Entry(inputs, outputs, 3, "m", "1", shown, rid, "customer_id"))
            truth += [{L.REQUEST_ID: rid, L.ROW: i, L.LABEL: int(y[i])} for i in range(3)]
    for start in range(0, len(entries), 40):
        sink.write(to_table(entries[start : start + 40], {}))
    sink.close()
    return pd.DataFrame(truth)


def test_labels_join_by_request_and_row_and_unknown_ids_are_reported(tmp_path: Path) -> None:
    truth = synthetic_log(tmp_path / "log")
    labels = pd.concat([truth, pd.DataFrame([{L.REQUEST_ID: "nope", L.ROW: 0, L.LABEL: 1}])])
    labels.to_parquet(tmp_path / "labels.parquet")
    frame, keys = read_labels(tmp_path / "labels.parquet", "request_id")
    result = label_parquet(tmp_path / "log", frame, keys)
    assert (result.labels, result.matched, result.rows, result.unknown) == (601, 600, 600, [("nope", 0)])
    assert "1 labels have no logged row (first: ('nope', 0))" in result.summary("log")
    logged = L.read_parquet_log(tmp_path / "log")
    merged = logged.merge(truth, on=[L.REQUEST_ID, L.ROW], suffixes=("", "_true"))
    assert len(logged) == 600 and (merged[L.LABEL] == merged[f"{L.LABEL}_true"]).all()
    again = label_parquet(tmp_path / "log", frame, keys)  # a label given again replaces the old one
    assert again.rows == 600 and len(L.read_parquet_log(tmp_path / "log")) == 600


def test_labels_join_by_entity_key(tmp_path: Path) -> None:
    synthetic_log(tmp_path / "log", per_arm=30)
    pd.DataFrame({L.ENTITY_KEY: ["champion-0-1", "ghost"], L.LABEL: [1, 0]}).to_csv(tmp_path / "labels.csv", index=False)
    frame, keys = read_labels(tmp_path / "labels.csv", "entity")
    result = label_parquet(tmp_path / "log", frame, keys)
    assert (result.matched, result.rows, result.unknown) == (1, 1, ["ghost"])
    with pytest.raises(MMPError, match="has no column"):
        read_labels(tmp_path / "labels.csv", "request_id")


def labelled(tmp_path: Path) -> pd.DataFrame:
    truth = synthetic_log(tmp_path / "log")
    return L.read_parquet_log(tmp_path / "log").merge(truth, on=[L.REQUEST_ID, L.ROW])


def test_ab_report_finds_the_clearly_better_challenger(tmp_path: Path) -> None:
    log = labelled(tmp_path)
    report = ab_report(log, tmp_path / "ab", seed=1, resamples=500)
    arms = report["arms"]
    assert arms["champion"]["rows"] == 300 and arms["challenger"]["rows"] == 300  # shadow rows count for the challenger
    assert arms["challenger"]["metrics"]["accuracy"] > arms["champion"]["metrics"]["accuracy"] + 0.1
    assert "roc_auc" in arms["champion"]["metrics"]  # the project's own classification metrics
    low, high = report["difference"]["ci95"]
    assert 0 < low < report["difference"]["challenger_minus_champion"] < high
    assert report["test"]["name"] == "two-proportion z-test" and report["test"]["p_value"] < 0.001
    assert report["verdict"].startswith("the challenger is better")
    assert (tmp_path / "ab" / "ab.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "challenger is better" in (tmp_path / "ab" / "ab.md").read_text()
    assert ab_report(log, tmp_path / "ab2", seed=1, resamples=500)["difference"] == report["difference"]  # seeded


def test_ab_report_names_a_variant_without_labelled_rows(tmp_path: Path) -> None:
    log = labelled(tmp_path)
    with pytest.raises(MMPError, match="no labelled rows for the challenger"):
        ab_report(log[log[L.VARIANT] == "champion"], tmp_path / "ab")
    with pytest.raises(MMPError, match="no labelled rows"):
        ab_report(log.drop(columns=[L.LABEL]), tmp_path / "ab")


def test_ab_report_on_a_regression_log_uses_a_permutation_test(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(size=400)
    noise = np.r_[rng.normal(scale=1.0, size=200), rng.normal(scale=0.3, size=200)]
    log = pd.DataFrame({L.VARIANT: ["champion"] * 200 + ["challenger"] * 200, L.PREDICTION: y + noise, L.LABEL: y})
    report = ab_report(log, tmp_path / "ab", resamples=500)
    assert report["metric"] == "mae" and report["test"]["name"] == "permutation test"
    assert report["difference"]["challenger_minus_champion"] < 0 and report["verdict"].startswith("the challenger is better")
