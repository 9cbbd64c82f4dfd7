"""``run_day``: one day of the loop, knowing no scheduler. ``mmp daily``, the Airflow DAG, the
GitHub workflow and ``mmp simulate`` all call it (or one of its steps, by name)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from mmp.core.errors import MMPError
from mmp.ops.daily import steps
from mmp.ops.daily.context import Day
from mmp.ops.daily.retrain import retrain
from mmp.ops.daily.settings import DailySettings
from mmp.ops.events import EventStore

STEPS = ("batch", "drift", "evaluate", "gate", "retrain", "decide")
ALERT_EXIT = 1


@dataclass
class DayResult:
    day: date
    outcome: str  # passed | deployed | alert | quarantined | running (a single step was run)
    metric: str
    threshold: float
    value: float | None = None  # the champion's metric on the day's rows
    drift: float | None = None
    attempts: list[dict[str, Any]] = field(default_factory=list)
    deployed: str | None = None

    @property
    def exit_code(self) -> int:
        return ALERT_EXIT if self.outcome in ("alert", "quarantined") else 0

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "day": self.day.isoformat(), "exit_code": self.exit_code}

    def line(self) -> str:
        head = f"{self.day}: {self.outcome}"
        if self.value is not None:
            head += f"; champion {self.metric} {self.value:.4f} (threshold {self.threshold:g})"
        for a in self.attempts:
            got = f"{self.metric} {a['value']:.4f}" if "value" in a else a.get("error", "failed")
            head += f"; attempt {a['attempt']} ({a['strategy']}): version {a.get('version', '-')} {got}"
        if self.deployed:
            head += f"; deployed version {self.deployed}"
        return head


def run_day(day: date, settings: DailySettings, store: EventStore, root: Path, step: str | None = None, attempt: int = 1) -> DayResult:
    """Run (or continue) ``day``: every step whose event is recorded is read back, not redone.
    ``step`` runs the steps up to and including that one (``retrain``: attempt ``attempt``)."""
    d = Day(day, settings, store, root)
    result = DayResult(day, "running", settings.gate.metric, settings.gate.value)
    if step is not None and step not in STEPS:
        raise MMPError("--step", f"unknown step {step!r}", ", ".join(STEPS))
    received = steps.batch(d)
    if d.done("quarantine") is not None:
        result.outcome = "quarantined"
        return result
    if step == "batch":
        return result
    result.drift = steps.drift(d)["score"]
    if step == "drift":
        return result
    champion = steps.evaluate(d)
    result.value = champion["metrics"][settings.gate.metric]
    if step == "evaluate":
        return result
    verdict = steps.gate(d)
    result.threshold = verdict["threshold"]  # the one the day was gated with (a re-run reads it back)
    if verdict["passed"]:
        result.outcome = "passed"
        return result
    if step == "gate":
        return result
    last = attempt if step == "retrain" else settings.max_attempts
    for n in range(1, last + 1):
        result.attempts.append(retrain(d, n, champion["metrics"]))
        if result.attempts[-1]["passed"]:
            break
    if step == "retrain":
        return result
    del received
    return decide(d, result)


def decide(d: Day, result: DayResult) -> DayResult:
    """Deploy the first passing attempt, or raise the alert that carries the figures."""
    from mmp.ops.deploy import deploy

    passing = [a for a in result.attempts if a["passed"]]
    if passing:
        version = passing[0]["version"]
        reason = f"daily {d.stamp}: attempt {passing[0]['attempt']} passed the gate and beat the champion"
        deploy(d.model_name, version, reason, d.store, day=d.day, client=d.client)  # idempotent: a re-run records nothing
        result.outcome, result.deployed = "deployed", version
        return result
    result.outcome = "alert"
    from mmp.ops.alerts import Attempt

    attempts = tuple(
        Attempt(number=a["attempt"], strategy=a["strategy"], value=a.get("value"), version=a.get("version"), run_id=a.get("run_id"))
        for a in result.attempts
    )
    reason = f"{result.metric} below the threshold and no retrain passed ({len(attempts)} attempts)"
    steps.alert(d, reason, metric=result.metric, value=result.value, threshold=result.threshold, attempts=attempts)
    return result
