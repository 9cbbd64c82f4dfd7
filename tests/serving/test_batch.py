"""Batch scoring in process: SQL input through the one database-URL rule."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from mmp.core.errors import MMPError
from tests.serving.conftest import sample_frame


def test_scored_at_is_timezone_aware_utc(package_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README says scored_at is UTC: the value and the written column say so too."""
    from mmp.inference.batch import Identity, now, score_to_file
    from mmp.inference.scorer import Scorer

    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    assert now().utcoffset() is not None and now().utcoffset().total_seconds() == 0
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    pinned = now()
    assert pinned == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC) and pinned.tzinfo is not None
    rows = sample_frame(5).drop(columns=["default"])
    scorer = Scorer.from_package(package_dir)
    for name in ("out.parquet", "out.csv"):
        score_to_file(scorer, iter([rows]), tmp_path / name, Identity("m", "1", pinned), progress=False)
    out = pd.read_parquet(tmp_path / "out.parquet")
    assert str(out["scored_at"].dt.tz) == "UTC" and set(out["scored_at"]) == {pd.Timestamp(1700000000, unit="s", tz="UTC")}
    assert set(pd.read_csv(tmp_path / "out.csv")["scored_at"]) == {"2023-11-14 22:13:20+00:00"}


@pytest.mark.integration
def test_a_plain_postgresql_url_uses_the_installed_driver(pg_url: str) -> None:
    """`postgresql://` (as users and the README write it) must not ask SQLAlchemy 2.1 for
    psycopg 3, which is not installed."""
    from mmp.inference.batch import sql_chunks

    plain = pg_url.replace("postgresql+psycopg2://", "postgresql://")
    chunks = list(sql_chunks(plain, "SELECT :x AS x", {"x": 7}, chunksize=10))
    assert chunks[0]["x"].tolist() == [7]


def score_file(package: Path, source: Path, output: Path) -> int:
    from mmp.inference.batch import Identity, file_chunks, score_to_file
    from mmp.inference.scorer import Scorer

    chunks, total = file_chunks(source, chunksize=100)
    return score_to_file(Scorer.from_package(package), chunks, output, Identity("m", "1", datetime(2024, 1, 1)), total, progress=False)


def write(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False) if path.suffix == ".csv" else frame.to_parquet(path, index=False)
    return path


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_0_row_input_scores_to_an_empty_output_whatever_its_format(package_dir: Path, tmp_path: Path, suffix: str) -> None:
    """0 rows is an empty batch (a day without applications), not an error: the output has the
    usual columns and no rows. The columns are still checked against the model's contract."""
    rows = sample_frame(20).drop(columns=["default"]).iloc[:0]
    out = tmp_path / "out.csv"
    assert score_file(package_dir, write(rows, tmp_path / f"in{suffix}"), out) == 0
    scored = pd.read_csv(out)
    assert scored.empty and {"customer_id", "prediction", "model_version", "scored_at"} <= set(scored.columns)
    with pytest.raises(MMPError, match="column 'age': required by the data contract but missing"):
        score_file(package_dir, write(rows.drop(columns=["age"]), tmp_path / f"no-age{suffix}"), tmp_path / "out2.csv")
    assert not (tmp_path / "out2.csv").exists()


def test_an_empty_input_file_is_one_line(package_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(MMPError, match=r"^--input: .*empty.csv is empty: no header row"):
        score_file(package_dir, tmp_path / "empty.csv", tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists()
