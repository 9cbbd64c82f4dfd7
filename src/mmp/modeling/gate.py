"""The quality gate: the rules a candidate model must pass before it becomes the champion.

A pure function over metric dictionaries: no disk, no MLflow. ``mmp promote`` feeds it the
candidate's and the champion's metrics measured on the same test data; the package stage feeds
it the candidate's own metrics (no champion) for the model card.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from dataclasses import dataclass, field

from mmp.core.config import GateConfig
from mmp.core.errors import MMPError, raise_all
from mmp.modeling.tasks import higher_is_better

OPS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}


@dataclass(frozen=True)
class GateCheck:
    rule: str  # the rule as the user wrote it, e.g. "roc_auc >= 0.7"
    metric: str
    value: float | None  # the candidate's figure (the improvement, for beat-champion checks)
    threshold: float | None  # what it was compared with (None: the check was skipped)
    passed: bool

    def line(self) -> str:
        mark = "PASS" if self.passed else "FAIL"
        if self.threshold is None:
            return f"{mark}  {self.rule}"
        return f"{mark}  {self.rule}: got {self.value:.6g} (threshold {self.threshold:.6g})"


@dataclass(frozen=True)
class GateResult:
    passed: bool
    checks: list[GateCheck] = field(default_factory=list)

    @property
    def failed(self) -> list[GateCheck]:
        return [c for c in self.checks if not c.passed]

    def summary(self) -> str:
        head = "gate passed" if self.passed else f"gate FAILED ({len(self.failed)} of {len(self.checks)} checks)"
        return "\n".join([head, *(f"  {c.line()}" for c in self.checks)])


def evaluate_gate(
    gate: GateConfig,
    metrics: dict[str, float],
    champion_metrics: dict[str, float] | None,
    key: str = "evaluate.gate",
    directions: Mapping[str, bool] | None = None,
) -> GateResult:
    """Check ``metrics`` against the absolute rules and, when a champion exists, against the
    champion's metrics. A rule naming a metric that was not computed is a recipe error
    reported under ``key`` (see ``EvaluateConfig.gate_for``). ``directions`` says which way
    the user's own metrics improve (name -> higher is better; ``evaluate.extra_metrics``)."""
    _check_metrics_exist(gate, metrics, champion_metrics, key)
    checks = [_rule_check(r.metric, r.op, r.value, metrics[r.metric]) for r in gate.rules]
    if gate.beat_champion is not None:
        beat = gate.beat_champion
        checks.append(_champion_check(beat.metric, beat.min_delta, metrics, champion_metrics, (directions or {}).get(beat.metric)))
    return GateResult(passed=all(c.passed for c in checks), checks=checks)


def _rule_check(metric: str, op: str, value: float, got: float) -> GateCheck:
    return GateCheck(f"{metric} {op} {value:g}", metric, float(got), float(value), bool(OPS[op](got, value)))


def _champion_check(
    metric: str, min_delta: float, metrics: dict[str, float], champion: dict[str, float] | None, higher: bool | None = None
) -> GateCheck:
    """``higher``: which way ``metric`` improves; None looks it up in the task table."""
    direction = "higher" if (higher_is_better(metric) if higher is None else higher) else "lower"
    rule = f"{metric} beats the champion by >= {min_delta:g} ({direction} is better)"
    if champion is None:
        return GateCheck(f"{rule}: no champion yet, skipped", metric, None, None, True)
    improvement = metrics[metric] - champion[metric]
    if direction == "lower":
        improvement = -improvement
    return GateCheck(f"{rule}; champion {champion[metric]:.6g}", metric, float(improvement), float(min_delta), improvement >= min_delta)


def _check_metrics_exist(gate: GateConfig, metrics: dict[str, float], champion: dict[str, float] | None, key: str) -> None:
    hint = ", ".join(sorted(metrics))
    errors = [
        MMPError(f"{key}.rules[{i}].metric", f"{r.metric!r} is not a computed metric", hint)
        for i, r in enumerate(gate.rules)
        if r.metric not in metrics
    ]
    beat = gate.beat_champion
    if beat is not None and (beat.metric not in metrics or (champion is not None and beat.metric not in champion)):
        errors.append(MMPError(f"{key}.beat_champion.metric", f"{beat.metric!r} is not a computed metric", hint))
    raise_all(errors)
