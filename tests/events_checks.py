"""The events store's behaviour, written once and run against SQLite (tests/unit) and PostgreSQL
(tests/integration): insert-or-ignore on the key, filters, order, limit, JSON payloads."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from mmp.core.errors import MMPError
from mmp.ops.events import EventStore, event_key

DAY6, DAY7 = date(2026, 1, 6), date(2026, 1, 7)


def check_store(store: EventStore) -> None:
    start = datetime.now(UTC) - timedelta(seconds=1)
    assert store.append("batch", event_key(DAY6, "batch"), DAY6, {"rows": np.int64(300), "positives": 31})
    assert store.append("evaluation", event_key(DAY6, "evaluation"), DAY6, {"f1": np.float64(0.81)}, model="credit-default", version=3)
    assert store.append("batch", event_key(DAY7, "batch"), DAY7, {"rows": 280, "path": None, "rates": np.array([0.1, 0.25])})
    # A re-run of day 7 records its batch again: ignored, the first payload stands.
    assert not store.append("batch", event_key(DAY7, "batch"), DAY7, {"rows": 999})
    assert store.append("alert", event_key(DAY7, "alert"), DAY7, {"f1": float("nan"), "attempts": ({"run": "abc"},)})

    every = store.list()
    assert [e.key for e in every] == ["2026-01-06/batch", "2026-01-06/evaluation", "2026-01-07/batch", "2026-01-07/alert"]
    assert [e.id for e in every] == sorted(e.id for e in every)
    assert every[2].payload == {"rows": 280, "path": None, "rates": [0.1, 0.25]}
    assert every[1].model == "credit-default" and every[1].version == "3" and every[1].payload == {"f1": 0.81}
    assert every[3].payload == {"f1": None, "attempts": [{"run": "abc"}]}, "NaN is stored as null, tuples as lists"
    assert all(e.created_at.tzinfo is not None and e.created_at >= start for e in every)
    assert store.get("2026-01-07/batch") == every[2] and store.get("2026-01-08/batch") is None

    assert [e.key for e in store.list(kind="batch")] == ["2026-01-06/batch", "2026-01-07/batch"]
    assert [e.day for e in store.list(since=DAY7)] == [DAY7, DAY7]
    assert store.list(since=datetime.now(UTC) + timedelta(minutes=1)) == []
    assert len(store.list(since=start.replace(tzinfo=None))) == 4, "a naive date-time is UTC"
    assert [e.key for e in store.list(limit=2)] == ["2026-01-07/batch", "2026-01-07/alert"], "the last N, oldest first"
    assert [e.kind for e in store.list(model="credit-default")] == ["evaluation"]

    with pytest.raises(MMPError, match=r"^kind: unknown event kind 'deploy' \(allowed: batch, quarantine, drift"):
        store.append("deploy", "k", DAY7, {})
    with pytest.raises(MMPError, match=r"^payload\.when: cannot be stored as JSON \(a object\)"):
        store.append("batch", "k2", DAY7, {"when": object()})
    assert store.get("k2") is None, "a refused event leaves nothing behind"
