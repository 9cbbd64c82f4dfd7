"""The data quality report on tiny frames: each leakage and time check finds what is planted,
and only that; fail_on_leakage turns leaks into one-line errors; the files are written whole."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mmp.core.config import DataConfig
from mmp.core.errors import MMPErrors, raise_all
from mmp.data.quality import errors, quality_report, warning_lines
from mmp.pipeline.quality_report import histograms, write_report


def config(task: str = "binary", **quality: Any) -> DataConfig:
    return DataConfig(source_uri="x.csv", target_col="y", task_type=task, id_cols=["customer_id"], time_col="when", quality=quality)  # type: ignore[arg-type]


def frames(rows: int = 200, planted: bool = True, time_ok: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train and test; ``planted``: with a leak (the target plus noise) and an id-like column
    (``row_number``); unless ``time_ok``, test rows are dated before every train row."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, rows)
    frame = pd.DataFrame(
        {
            "customer_id": np.arange(rows),  # a declared id: no finding
            "noise": rng.normal(size=rows),
            "region": rng.choice(["north", "south", "east"], rows),
            "when": pd.date_range("2024-01-01", periods=rows, freq="D"),
            "y": y,
        }
    )
    if planted:
        frame["leak"] = y + rng.normal(scale=0.05, size=rows)
        frame["row_number"] = np.arange(rows) + 1000
    cut = rows // 4
    train, test = (frame.iloc[cut:], frame.iloc[:cut]) if not time_ok else (frame.iloc[:-cut], frame.iloc[-cut:])
    return train.reset_index(drop=True), test.reset_index(drop=True)


def found(report: dict[str, Any]) -> set[tuple[str, str]]:
    return {(f["check"], f["column"]) for f in report["findings"]}


def test_planted_leak_id_like_column_and_time_inconsistency_are_each_found() -> None:
    report = quality_report(*frames(), config())
    assert found(report) == {("single_feature", "leak"), ("id_like", "row_number"), ("time_order", "when")}
    assert all(f["severity"] == "warning" for f in report["findings"])
    scores = report["leakage"]["single_feature_score"]["scores"]
    assert scores["leak"] == 1.0 and scores["noise"] < 0.7 and "customer_id" not in scores and "when" not in scores
    assert report["time"]["test_older_than_train_max"] == 1.0
    lines = warning_lines(report)
    assert len(lines) == 3 and all("\n" not in line for line in lines)
    assert any("'leak'" in line and "AUC 1.000 > 0.98" in line for line in lines)


def test_a_clean_frame_has_no_findings_and_a_full_profile() -> None:
    report = quality_report(*frames(planted=False, time_ok=True), config())
    assert report["findings"] == []
    noise, region = report["columns"]["noise"], report["columns"]["region"]
    assert noise["type"] == "numeric" and noise["missing_rate"] == 0 and noise["min"] < 0 < noise["max"]
    assert len(noise["histogram"]["edges"]) == 21 and sum(noise["histogram"]["counts"]) == 200
    assert region["type"] == "categorical" and region["distinct"] == 3 and set(region["histogram"]["values"]) == {"north", "south", "east"}
    assert set(report["target"]["balance"]) == {"0", "1"}
    assert report["time"]["periods"]["freq"] == "M" and sum(report["time"]["periods"]["rows"]) == 200


def test_fail_on_leakage_raises_one_line_per_leak_naming_column_rule_and_the_way_out() -> None:
    report = quality_report(*frames(), config(fail_on_leakage=True, allow=["row_number"]))
    with pytest.raises(MMPErrors) as err:
        raise_all(errors(report))
    lines = str(err.value).splitlines()
    assert len(lines) == 2, lines  # row_number is allowed: it stays a warning
    leak = next(line for line in lines if "'leak'" in line)
    assert "one-feature AUC 1.000 > 0.98" in leak and "data.quality.allow" in leak and "fail_on_leakage=false" in leak
    assert any("'when'" in line and "older than the newest train row" in line for line in lines)
    assert [line for line in warning_lines(report) if "row_number" in line]


def test_regression_leak_by_rank_correlation_and_categorical_leak_scored_on_held_out_rows() -> None:
    train, test = frames(planted=False, time_ok=True)
    for frame in (train, test):
        frame["y"] = frame["noise"] * 3 + 1  # the target is a function of one feature
        frame["code"] = np.where(frame["noise"] > 0, "hi", "lo")
    report = quality_report(train, test, config("regression"))
    assert found(report) == {("single_feature", "noise")}, report["findings"]
    assert "|Spearman rho| 1.000" in report["findings"][0]["rule"]
    assert report["leakage"]["single_feature_score"]["scores"]["code"] < 0.98


def test_time_checks_report_missing_times_and_empty_periods() -> None:
    train, test = frames(planted=False, time_ok=True)
    train.loc[:5, "when"] = pd.NaT
    train = train[(train["when"].isna()) | (train["when"] < "2024-03-01") | (train["when"] >= "2024-05-01")]
    report = quality_report(train.reset_index(drop=True), test, config())
    assert found(report) == {("time_missing", "when"), ("time_gaps", "when")}
    assert not any(f["leakage"] for f in report["findings"])  # never an error, only a warning


def test_report_files_are_written_whole_and_byte_identical_on_rewrite(tmp_path: Path) -> None:
    # Few columns: drawing dominates the cost, and the figures do not depend on how many there are.
    train, test = (f[["row_number", "when", "y"]] for f in frames())
    report = quality_report(train, test, config())
    out = tmp_path / "quality"
    write_report(report, out)
    first = {p.name: p.read_bytes() for p in out.iterdir()}
    assert set(first) == {"quality.json", "index.html", "histograms.png", "target.png", "leakage.png", "time.png"}
    assert all(first[name].startswith(b"\x89PNG") for name in first if name.endswith(".png"))
    page = first["index.html"].decode()
    assert "id-like" in page and 'src="leakage.png"' in page and "http" not in page  # offline: no CDN
    write_report(report, out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == first
    assert [p.name for p in tmp_path.iterdir()] == ["quality"]  # no stray temp siblings


def test_the_histogram_grid_has_a_fixed_layout_that_holds_its_longest_labels() -> None:
    """No layout engine (savefig would draw the grid twice and measure every tick label), and
    still each subplot's texts, 12-character category labels at 60 degrees included, stay inside
    the figure and clear of the other subplots."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    train, test = frames()
    for frame in (train, test):
        frame["region"] = frame["region"].map(lambda r: f"{r}_region_of_the_country")
        frame["big"] = np.arange(len(frame)) * 10**5
    fig = histograms(quality_report(train, test, config()))
    assert fig.get_layout_engine() is None
    renderer = FigureCanvasAgg(fig).get_renderer()
    boxes = [ax.get_tightbbox(renderer) for ax in fig.axes]
    assert all(fig.bbox.x0 <= b.x0 and b.x1 <= fig.bbox.x1 and fig.bbox.y0 <= b.y0 and b.y1 <= fig.bbox.y1 for b in boxes)
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])


def test_bad_quality_settings_are_refused_by_key() -> None:
    with pytest.raises(ValueError, match="max_single_feature_score"):
        config(max_single_feature_score=0.3)
    with pytest.raises(ValueError, match="quality.fail_on_leak"):
        config(fail_on_leak=True)


def test_single_feature_auc_is_scikit_learns_without_importing_it() -> None:
    """The leakage check's AUC is the Mann-Whitney statistic (scikit-learn's import was 1.2 s of
    every prepare run): the same value as roc_auc_score, ties included."""
    from sklearn.metrics import roc_auc_score

    from mmp.data.quality import roc_auc

    rng = np.random.default_rng(0)
    hit = pd.Series(rng.integers(0, 2, 500))
    for score in (pd.Series(rng.normal(size=500)), pd.Series(rng.integers(0, 5, 500).astype(float)), hit * 2.0 - 1.0):
        assert roc_auc(hit, score) == pytest.approx(roc_auc_score(hit, score), abs=1e-12)


def test_histograms_and_leakage_scores_use_a_bounded_seeded_sample(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past SAMPLE_ROWS the histogram and the one-feature score come from a seeded sample (same
    report twice); missing rates and distinct counts still count every row."""
    from mmp.data import quality

    monkeypatch.setattr(quality, "SAMPLE_ROWS", 500)
    rng = np.random.default_rng(0)
    n = 4000
    frame = pd.DataFrame({"x": rng.normal(size=n), "c": rng.choice(list("abcdefgh"), n), "y": rng.integers(0, 2, n)})
    frame.loc[:9, "x"] = np.nan
    data = DataConfig(source_uri="x.csv", target_col="y", task_type="binary")
    train, test = frame.iloc[:3000], frame.iloc[3000:]
    report = quality.quality_report(train, test, data)
    assert report == quality.quality_report(train, test, data)
    score = quality.single_feature_score(quality.sampled(train), quality.sampled(test), "x", data)
    assert score is not None and report["leakage"]["single_feature_score"]["scores"]["x"] == round(score, 6)
    assert score != quality.single_feature_score(train, test, "x", data)
    assert (
        sum(report["columns"]["x"]["histogram"]["counts"]) == quality.sampled(frame["x"]).notna().sum() < 500
        and sum(report["columns"]["c"]["histogram"]["counts"]) == 500
    )
    assert report["columns"]["x"]["missing_rate"] == 10 / n and report["columns"]["c"]["distinct"] == 8
    assert quality.sampled(frame).index.equals(frame.sample(n=500, random_state=quality.SAMPLE_SEED).index)
    # One draw serves every column: the rows each column's own seeded sample would pick.
    assert quality.sampled(frame["c"]).equals(frame["c"].sample(n=500, random_state=quality.SAMPLE_SEED))
