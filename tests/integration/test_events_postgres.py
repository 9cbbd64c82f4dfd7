"""The events store on PostgreSQL (dev and prod): the same rules as on SQLite, in a table of
this test's own."""

from __future__ import annotations

import json
from datetime import date

import pytest

from mmp.ops.events import EventStore
from tests.conftest import mmp
from tests.events_checks import check_store
from tests.integration.conftest import PG_URL

pytestmark = pytest.mark.integration
URL = PG_URL


def test_postgres_store_appends_once_per_key_and_filters(table: str) -> None:
    with EventStore(URL, table) as store:
        check_store(store)
    with EventStore(URL, table) as reopened:
        assert len(reopened.list()) == 4


@pytest.mark.cli
def test_mmp_events_in_dev_reads_the_postgres_store_its_settings_name(table: str) -> None:
    with EventStore(URL, table) as store:
        store.append("gate", "2026-01-07/gate", date(2026, 1, 7), {"passed": False, "f1": 0.61, "threshold": 0.75})
    out = mmp("events", "--json", APP_ENV="dev", MMP_EVENTS_URL=URL, MMP_EVENTS_TABLE=table).stdout
    assert [json.loads(line)["payload"] for line in out.splitlines()] == [{"passed": False, "f1": 0.61, "threshold": 0.75}]
