"""The report's pure parts: tables, sections, static plot specs, and one real PNG render."""

from __future__ import annotations

import pytest

from mmp.core.errors import MMPError
from mmp.ops.reporting.dvc_data import Revisions
from mmp.ops.reporting.plots import render_png, slug, static_spec, title
from mmp.ops.reporting.sections import gate_section, metrics_section, params_section, plots_section, target_metrics
from mmp.ops.reporting.tables import delta, fmt, metrics_table

REVS = Revisions("origin/main")
METRICS = {
    "metrics/evaluate.json": {"roc_auc": {"old": 0.75, "new": 0.78, "diff": 0.03}, "log_loss": {"old": 0.3, "new": 0.33, "diff": 0.03}},
    "metrics/data.json": {"rows.total": {"old": 2000, "new": 2000, "diff": 0}},
}


def test_revisions_leave_the_workspace_implicit() -> None:
    assert Revisions("HEAD~1").args() == ["HEAD~1"]
    assert Revisions("a", "b").args() == ["a", "b"]


@pytest.mark.parametrize(
    ("value", "text"), [(None, "—"), (0.7851234567, "0.785123"), (2000, "2000"), ("a|b", "a\\|b"), ([1, 2], "[1, 2]"), (True, "true")]
)
def test_cells_are_formatted_for_markdown(value: object, text: str) -> None:
    assert fmt(value) == text


def test_delta_says_better_or_worse_by_the_metric_direction() -> None:
    assert delta(0.5, 0.6, True) == "+0.1 (+20.00%) ✅ better"
    assert delta(0.5, 0.6, False).endswith("❌ worse")
    assert delta(0.3, 0.2, False).endswith("✅ better")
    assert delta(1, 2, None) == "+1 (+100.00%)"
    assert delta(0.0, 0.5, True) == "+0.5 ✅ better"  # no relative change from zero
    assert delta(3, 3, True) == "0"
    assert delta(None, 0.5, True) == "new"
    assert delta(0.5, None, True) == "removed"


def test_metrics_table_sorts_rows_and_names_both_revisions() -> None:
    table = metrics_table(METRICS["metrics/evaluate.json"], "main", "workspace", {"roc_auc": True, "log_loss": False})
    lines = table.splitlines()
    assert lines[0] == "| Metric | main | workspace | Change |"
    assert lines[2].startswith("| log_loss | 0.3 | 0.33 | +0.03 (+10.00%) ❌ worse")
    assert lines[3].startswith("| roc_auc | 0.75 | 0.78 | +0.03 (+4.00%) ✅ better")


def test_metrics_section_folds_unchanged_files_below_changed_ones() -> None:
    text = metrics_section(METRICS, REVS, {"roc_auc": True})
    assert text.index("### `metrics/evaluate.json`") < text.index("<details><summary><code>metrics/data.json</code> (unchanged)")
    assert "Neither revision has metrics" in metrics_section({}, REVS, {})


def test_params_section_lists_changes_or_says_there_are_none() -> None:
    diff = {"params.yaml": {"model.hyperparameters.n_estimators": {"old": 300, "new": 120, "diff": -180}}}
    assert "| model.hyperparameters.n_estimators | 300 | 120 |" in params_section(diff, REVS)
    assert "No params changed between `origin/main` and `workspace`." in params_section({}, REVS)


def test_gate_section_without_rules_says_so() -> None:
    assert "No absolute rules are configured (`evaluate.gate.classification.rules` is empty)." in gate_section(
        {"evaluate": {"threshold": 0.5}}, {"roc_auc": 0.8}
    )
    assert "`evaluate.gate.regression.rules` is empty" in gate_section({"data": {"task_type": "regression"}}, {})


def test_gate_section_gives_the_verdict_of_the_tasks_gate() -> None:
    gate = {"classification": {"rules": [{"metric": "roc_auc", "op": ">=", "value": 0.7}], "beat_champion": {"metric": "roc_auc"}}}
    passed = gate_section({"evaluate": {"gate": gate}}, {"roc_auc": 0.8})
    assert "**✅ passed**" in passed and "| `roc_auc >= 0.7` | 0.8 | ✅ |" in passed and "mmp promote" in passed
    assert "**❌ FAILED**" in gate_section({"evaluate": {"gate": gate}}, {"roc_auc": 0.6})
    with pytest.raises(MMPError, match=r"evaluate\.gate\.bogus: unknown key"):
        gate_section({"evaluate": {"gate": {"bogus": {}}}}, {"roc_auc": 0.8})


def test_target_metrics_are_the_new_numeric_values() -> None:
    assert target_metrics(METRICS) == {"roc_auc": 0.78, "log_loss": 0.33, "rows.total": 2000}


def test_plots_section_links_images_and_names_missing_plots() -> None:
    text = plots_section([("ROC", "plots/roc.png")], ["Predicted-vs-Actual"])
    assert "![ROC](plots/roc.png)" in text
    assert "`Predicted-vs-Actual`" in text


def test_plot_names_and_titles() -> None:
    assert slug("metrics/train/plots/metrics/binary_logloss.tsv") == "metrics-train-plots-metrics-binary_logloss"
    assert slug("Precision-Recall") == "precision-recall"
    assert title("metrics/train/plots/metrics/binary_logloss.tsv") == "Training curve: binary_logloss"
    assert title("ROC") == "ROC"
    declared = {"title": {"text": "Receiver operating characteristic (ROC)", "anchor": "middle"}}
    assert title("metrics/evaluate/plots/sklearn/roc.json", declared) == "Receiver operating characteristic (ROC)"


def test_static_spec_turns_checkboxes_on_and_leaves_the_input_alone() -> None:
    spec = {
        "title": {"text": "x", "anchor": "middle"},
        "params": [{"name": "showValues", "bind": {"input": "checkbox"}}, {"name": "grid", "bind": "scales"}, "<anchor>"],
    }
    out = static_spec(spec, "Confusion")
    assert out["title"] == {"text": "Confusion", "anchor": "middle"}
    assert out["params"][0]["value"] is True
    assert "value" not in spec["params"][0]


def test_render_png_draws_a_vega_lite_spec_offline() -> None:
    spec = {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "data": {"values": [{"step": i, "loss": 1 / (i + 1), "rev": r} for i in range(5) for r in ("a", "b")]},
        "mark": "line",
        "encoding": {
            "x": {"field": "step", "type": "quantitative"},
            "y": {"field": "loss", "type": "quantitative"},
            "color": {"field": "rev"},
        },
    }
    png = render_png(spec)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(png) > 1000


def test_automl_section_tabulates_each_familys_best_score() -> None:
    from mmp.ops.reporting.sections import automl_section

    rows = {
        "families.random_forest.best_score": {"old": None, "new": 0.81},
        "families.random_forest.n_complete": {"old": None, "new": 3},
        "families.random_forest.n_pruned": {"old": None, "new": 1},
        "families.logistic_regression.best_score": {"old": 0.7, "new": 0.77},
        "best_score": {"old": 0.7, "new": 0.81},
    }
    text = automl_section({"metrics/tune.json": rows}) or ""
    assert text.startswith("## AutoML: best score per family")
    assert "| `logistic_regression` | 0.77 |" in text and "| `random_forest` | 0.81 | 3 | 1 |" in text
    assert automl_section({"metrics/tune.json": {"best_score": {"old": 1, "new": 2}}}) is None
