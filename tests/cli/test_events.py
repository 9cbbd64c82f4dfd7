"""`mmp events`: the store's rows as a table or JSON lines, filtered; bad options in one line."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from mmp.cli import main
from mmp.ops.events import EventStore
from tests.conftest import mmp


def test_mmp_events_lists_filters_and_refuses_a_bad_since(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    url = f"sqlite:///{tmp_path}/events.db"
    with EventStore(url) as store:
        for day in (date(2026, 1, 5), date(2026, 1, 6), date(2026, 1, 7)):
            store.append("evaluation", f"{day}/evaluation", day, {"f1": 0.8}, model="credit-default", version="1")
        store.append("alert", "2026-01-07/alert", date(2026, 1, 7), {"f1": 0.6, "threshold": 0.75})

    table = mmp("events", MMP_EVENTS_URL=url).stdout.splitlines()
    assert len(table) == 5 and table[0].startswith("id  recorded (UTC)") and "2026-01-07/alert" in table[4]
    lines = mmp("events", "--kind", "evaluation", "--since", "2026-01-06", "--json", "--limit", "1", MMP_EVENTS_URL=url).stdout
    (only,) = [json.loads(line) for line in lines.splitlines()]
    assert only["key"] == "2026-01-07/evaluation" and only["payload"] == {"f1": 0.8} and only["version"] == "1"

    monkeypatch.setenv("MMP_EVENTS_URL", url)
    with pytest.raises(SystemExit) as exit_:
        main(["events", "--since", "last week"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.splitlines()[0] == (
        "error: --since: not an ISO date or date-time (got 'last week') (allowed: e.g. 2026-01-07 or 2026-01-07T12:00:00+00:00)"
    )
    assert "Traceback" not in err
