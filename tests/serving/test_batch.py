"""Batch scoring in process: SQL input through the one database-URL rule."""

from __future__ import annotations

import pytest


@pytest.mark.integration
def test_a_plain_postgresql_url_uses_the_installed_driver(pg_url: str) -> None:
    """`postgresql://` (as users and the README write it) must not ask SQLAlchemy 2.1 for
    psycopg 3, which is not installed."""
    from mmp.inference.batch import sql_chunks

    plain = pg_url.replace("postgresql+psycopg2://", "postgresql://")
    chunks = list(sql_chunks(plain, "SELECT :x AS x", {"x": 7}, chunksize=10))
    assert chunks[0]["x"].tolist() == [7]
