"""`mmp events`: the store's rows as a table or JSON lines, filtered; bad options in one line."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from mmp.ops.events import EventStore
from tests.conftest import mmp


def test_mmp_events_lists_filters_and_refuses_a_bad_since(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/events.db"
    with EventStore(url) as store:
        for day in (date(2026, 1, 6), date(2026, 1, 7)):
            store.append("evaluation", f"{day}/evaluation", day, {"f1": 0.8}, model="credit-default", version="1")
        store.append("alert", "2026-01-07/alert", date(2026, 1, 7), {"f1": 0.6, "threshold": 0.75})

    table = mmp("events", MMP_EVENTS_URL=url).stdout.splitlines()
    assert len(table) == 4 and table[0].startswith("id  recorded (UTC)") and "2026-01-07/alert" in table[3]
    lines = mmp("events", "--kind", "evaluation", "--since", "2026-01-07", "--json", MMP_EVENTS_URL=url).stdout.splitlines()
    assert [json.loads(line)["key"] for line in lines] == ["2026-01-07/evaluation"]
    assert json.loads(mmp("events", "--limit", "1", "--json", MMP_EVENTS_URL=url).stdout)["payload"] == {"f1": 0.6, "threshold": 0.75}

    bad = mmp("events", "--since", "last week", check=False, MMP_EVENTS_URL=url)
    assert bad.returncode == 2 and bad.stderr.splitlines()[0] == (
        "error: --since: not an ISO date or date-time (got 'last week') (allowed: e.g. 2026-01-07 or 2026-01-07T12:00:00+00:00)"
    )
    assert "Traceback" not in bad.stderr
