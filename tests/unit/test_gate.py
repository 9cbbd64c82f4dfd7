"""The quality gate (a pure function) and its recipe section."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mmp.core.config import EvaluateConfig, GateConfig, load_params, parse
from mmp.core.errors import MMPError, MMPErrors
from mmp.modeling.gate import evaluate_gate

ROOT = Path(__file__).resolve().parents[2]


def gate(rules: list[dict], beat: dict | None = None) -> GateConfig:
    return parse(GateConfig, {"rules": rules, "beat_champion": beat}, "evaluate.gate")


def test_rules_pass_and_fail_with_their_figures() -> None:
    g = gate([{"metric": "f1", "op": ">=", "value": 0.75}, {"metric": "log_loss", "op": "<", "value": 0.3}])
    result = evaluate_gate(g, {"f1": 0.27, "log_loss": 0.25}, None)
    assert not result.passed
    assert [c.passed for c in result.checks] == [False, True]
    failed = result.failed[0]
    assert (failed.rule, failed.metric, failed.value, failed.threshold) == ("f1 >= 0.75", "f1", 0.27, 0.75)
    assert "FAIL  f1 >= 0.75: got 0.27 (threshold 0.75)" in result.summary()
    assert result.summary().startswith("gate FAILED (1 of 2 checks)")
    assert evaluate_gate(g, {"f1": 0.8, "log_loss": 0.1}, None).passed


@pytest.mark.parametrize(
    ("metric", "candidate", "champion", "min_delta", "passed"),
    [
        ("f1", 0.80, 0.79, 0.0, True),  # higher is better
        ("f1", 0.79, 0.80, 0.0, False),
        ("f1", 0.80, 0.79, 0.02, False),  # must beat by the margin
        ("f1", 0.80, 0.80, 0.0, True),  # a tie is "at least 0.0" better
        ("log_loss", 0.20, 0.25, 0.0, True),  # lower is better
        ("log_loss", 0.30, 0.25, 0.0, False),
        ("rmse", 9.0, 10.0, 0.5, True),
    ],
)
def test_beat_champion_follows_the_metric_direction(metric: str, candidate: float, champion: float, min_delta: float, passed: bool) -> None:
    result = evaluate_gate(gate([], {"metric": metric, "min_delta": min_delta}), {metric: candidate}, {metric: champion})
    assert result.passed is passed
    check = result.checks[0]
    assert check.threshold == min_delta
    improvement = champion - candidate if metric in ("log_loss", "rmse") else candidate - champion
    assert check.value == pytest.approx(improvement)


def test_no_champion_skips_the_comparison_but_says_so() -> None:
    result = evaluate_gate(gate([], {"metric": "f1", "min_delta": 0.0}), {"f1": 0.1}, None)
    assert result.passed
    assert "no champion yet, skipped" in result.summary()
    assert result.checks[0].threshold is None


def test_a_metric_that_was_not_computed_is_a_recipe_error() -> None:
    g = gate([{"metric": "roc_auc", "op": ">=", "value": 0.7}], {"metric": "auc", "min_delta": 0})
    with pytest.raises(MMPErrors) as err:
        evaluate_gate(g, {"rmse": 1.0, "r2": 0.5}, None)
    text = str(err.value)
    assert "evaluate.gate.rules[0].metric: 'roc_auc' is not a computed metric" in text
    assert "evaluate.gate.beat_champion.metric" in text
    assert "r2, rmse" in text


def test_bad_gate_config_names_the_key() -> None:
    with pytest.raises(MMPError, match=r"evaluate\.gate\.classification\.rules\.0\.op"):
        parse(EvaluateConfig, {"gate": {"classification": {"rules": [{"metric": "f1", "op": "=>", "value": 1}]}}}, "evaluate")
    with pytest.raises(MMPError, match=r"evaluate\.gate\.regression\.beat_champion\.margin: unknown key"):
        parse(EvaluateConfig, {"gate": {"regression": {"beat_champion": {"metric": "f1", "margin": 1}}}}, "evaluate")


def test_the_default_gate_passes_the_default_pipelines_metrics() -> None:
    params = load_params(ROOT / "params.yaml")
    metrics = json.loads((ROOT / "metrics" / "evaluate.json").read_text())
    key, gate = params.evaluate.gate_for(params.data.task_type)
    result = evaluate_gate(gate, metrics, None, key)
    assert result.passed, result.summary()
    assert gate.rules, "the default gate has at least one absolute rule"


def test_each_task_gets_its_own_gate_and_errors_name_it() -> None:
    evaluate = load_params(ROOT / "params.yaml").evaluate
    key, regression = evaluate.gate_for("regression")
    assert key == "evaluate.gate.regression" and evaluate_gate(regression, {"rmse": 50.0, "mae": 40.0, "r2": 0.45}, None, key).passed
    assert evaluate.gate_for("multiclass")[0] == "evaluate.gate.classification"
    with pytest.raises(MMPError, match=r"^evaluate\.gate\.classification\.rules\[0\]\.metric: 'roc_auc' is not a computed metric"):
        evaluate_gate(evaluate.gate_for("binary")[1], {"rmse": 1.0, "mae": 1.0, "r2": 0.5}, None, "evaluate.gate.classification")
