"""The events store on SQLite (the local default): append-only, idempotent on the key across
processes and re-opens, filtered by kind, day, time and model."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from mmp.core.errors import MMPError
from mmp.core.settings import load_settings
from mmp.ops.events import EventStore, parse_since, render_table
from tests.conftest import ROOT, pipeline_env
from tests.events_checks import DAY7, check_store


def test_sqlite_store_appends_once_per_key_and_filters(tmp_path: Path) -> None:
    with EventStore(f"sqlite:///{tmp_path}/new/dir/events.db") as store:
        check_store(store)
    with EventStore(f"sqlite:///{tmp_path}/new/dir/events.db") as reopened:  # a new process after a crash sees the same rows
        assert len(reopened.list()) == 4
        assert not reopened.append("batch", "2026-01-07/batch", DAY7, {"rows": 1})
        table = render_table(reopened.list(kind="alert"))
    assert table.splitlines()[0].split() == ["id", "recorded", "(UTC)", "day", "kind", "model", "version", "key", "payload"]
    assert "2026-01-07/alert" in table and '{"attempts": [{"run": "abc"}], "f1": null}' in table


def test_two_processes_recording_the_same_day_write_each_event_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/events.db"
    EventStore(url).close()  # the table exists before the race (as after the first day)
    code = (
        "import sys; from datetime import date; from mmp.ops.events import EventStore; s = EventStore(sys.argv[1]);"
        "print(sum(s.append('evaluation', f'2026-01-07/evaluation/{i}', date(2026, 1, 7), {'i': i}) for i in range(40)))"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, url], stdout=subprocess.PIPE, text=True, env=pipeline_env(ROOT)) for _ in range(2)
    ]
    written = [int(p.communicate(timeout=120)[0]) for p in procs]
    assert sum(written) == 40, written
    with EventStore(url) as store:
        assert sorted(e.payload["i"] for e in store.list()) == list(range(40))


def test_settings_name_the_store_and_a_bad_since_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MMP_EVENTS_URL", raising=False)
    monkeypatch.chdir(ROOT)
    local = load_settings("local", ROOT).events
    assert local.url == f"sqlite:///{ROOT}/events.db" and local.table == "mmp_events"
    with pytest.raises(
        MMPError, match=r"^conf/env/prod.yaml: events.url: cannot be resolved: environment variable MMP_EVENTS_URL is not set"
    ):
        _ = load_settings("prod", ROOT).events
    monkeypatch.setenv("MMP_EVENTS_URL", "postgresql://mmp:s3cret@db.internal/mmp")
    dev = load_settings("dev", ROOT).events
    assert dev.url.endswith("@db.internal/mmp") and "s3cret" not in dev.label
    assert parse_since("2026-01-07") == date(2026, 1, 7)
    with pytest.raises(MMPError, match=r"^--since: not an ISO date or date-time \(got 'yesterday'\)"):
        parse_since("yesterday")
