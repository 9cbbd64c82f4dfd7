"""Batch scoring in process: SQL input through the one database-URL rule."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

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
