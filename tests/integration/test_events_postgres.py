"""The events store on PostgreSQL (dev and prod): the same rules as on SQLite, in a table of
this test's own."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from mmp.ops.events import EventStore
from tests.events_checks import check_store

pytestmark = pytest.mark.integration
URL = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture
def table() -> Iterator[str]:
    name = f"mmp_events_{uuid.uuid4().hex[:10]}"
    engine = create_engine(URL.replace("postgresql://", "postgresql+psycopg2://"))
    try:
        with engine.connect():
            pass
    except OperationalError:
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    yield name
    with engine.begin() as conn:
        conn.execute(text(f'DROP TABLE IF EXISTS "{name}"'))
    engine.dispose()


def test_postgres_store_appends_once_per_key_and_filters(table: str) -> None:
    with EventStore(URL, table) as store:
        check_store(store)
    with EventStore(URL, table) as reopened:
        assert len(reopened.list()) == 4
