"""A table of a test's own in the local PostgreSQL (127.0.0.1:5432, database `test`), dropped
afterwards; the test is skipped with the reason where PostgreSQL is not running."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture
def table() -> Iterator[str]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    name = f"mmp_test_{uuid.uuid4().hex[:10]}"
    engine = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg2://"))
    try:
        with engine.connect():
            pass
    except OperationalError:
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    yield name
    with engine.begin() as conn:
        conn.execute(text(f'DROP TABLE IF EXISTS "{name}"'))
    engine.dispose()
