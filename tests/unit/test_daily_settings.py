"""The daily loop's pieces that need no model: its typed settings (conf/daily), the escalation
policy, the event keys, and the timeline and events table drawn from a real events store."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from mmp.core.errors import MMPError
from mmp.ops.daily.context import event_key
from mmp.ops.daily.settings import load_daily
from mmp.ops.daily.timeline import events_frame, markdown, timeline, timeline_png
from mmp.ops.events import EventStore
from tests.conftest import ROOT

DAY = date(2026, 1, 7)


def test_shipped_settings_and_the_documents_rule_by_override() -> None:
    shipped = load_daily(ROOT)
    assert (shipped.gate.metric, shipped.gate.op, shipped.max_attempts) == ("f1", ">=", 3)
    documents = load_daily(ROOT, overrides=["gate.value=0.75"])
    assert documents.gate.value == 0.75
    assert documents.gate_config.rules[0].value == 0.75 and documents.deploy_config.beat_champion is not None


def test_escalation_policy_repeats_its_last_strategy_and_widens_the_window() -> None:
    s = load_daily(ROOT, overrides=["escalation=[new_seed,wider_window]", "window_days=3", "wider_window_days=9"])
    assert [s.strategy(n) for n in (1, 2, 3)] == ["new_seed", "wider_window", "wider_window"]
    assert [s.window(n) for n in (1, 2, 3)] == [3, 9, 9]


@pytest.mark.parametrize(
    ("override", "names"),
    [("max_attempts=-1", "daily.max_attempts"), ("escalation=[retry_harder]", "daily.escalation.0"), ("gate.op=~", "daily.gate.op")],
)
def test_a_bad_setting_is_one_line_naming_its_key(override: str, names: str) -> None:
    with pytest.raises(MMPError) as err:
        load_daily(ROOT, overrides=[override])
    assert names in str(err.value) and "\n" not in str(err.value)


def test_unknown_settings_file_and_key() -> None:
    with pytest.raises(MMPError, match="no file conf/daily/nightly.yaml"):
        load_daily(ROOT, "nightly")
    with pytest.raises(MMPError, match="--set"):
        load_daily(ROOT, overrides=["gates.value=1"])


def test_event_keys_follow_the_store_convention() -> None:
    assert event_key(DAY, "gate") == "2026-01-07/gate"
    assert event_key(DAY, "retrain_attempt", 2) == "2026-01-07/retrain_attempt/2"


def test_timeline_of_recorded_days(tmp_path: Path) -> None:
    with EventStore(f"sqlite:///{tmp_path}/events.db") as store:
        for n, (f1, attempts, outcome) in enumerate([(0.4, [], None), (0.1, [0.15, 0.3], "deployment"), (0.05, [0.02], "alert")]):
            day = DAY + timedelta(days=n)
            store.append("drift", event_key(day, "drift"), day, {"score": 0.5 + n})
            store.append("gate", event_key(day, "gate"), day, {"metric": "f1", "value": f1, "threshold": 0.2, "passed": f1 >= 0.2})
            for i, value in enumerate(attempts, 1):
                store.append("retrain_attempt", event_key(day, "retrain_attempt", i), day, {"value": value}, version=str(n + i))
            if outcome:
                store.append(outcome, event_key(day, outcome), day, {"version": "3"}, version="3")
        events = store.list()
    frame = timeline(events)
    assert frame["attempts"].tolist() == [0, 2, 1]
    assert frame["best_attempt"].iloc[1] == 0.3 and frame["deployed"].tolist()[1] == "3" and frame["alert"].tolist() == [False, False, True]
    assert timeline_png(frame, "f1").startswith(b"\x89PNG")
    table = markdown(events_frame(events))
    assert table.count("\n") == len(events) + 2 and "| 2026-01-08 | retrain_attempt | 2026-01-08/retrain_attempt/2 |" in table
