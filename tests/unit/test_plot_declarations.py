"""Each stage declares the plots its run wrote, and only those, with readable titles: whatever
the task, every plot `dvc plots show` is told about exists (no "DVC failed to load some plots")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from mmp.pipeline.evaluation import evaluate_classification, evaluate_regression
from mmp.pipeline.stages import live, plots_config
from tests.conftest import ROOT


class Model:
    def __init__(self, classes: list[str] | None = None):
        self.classes_ = np.array(classes or [])

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        p = np.random.default_rng(0).random((len(X), len(self.classes_)))
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return np.arange(len(X), dtype="float64")


def declared(directory: Path) -> dict[str, dict[str, Any]]:
    config = plots_config(directory)
    entries = yaml.safe_load(config.read_text())["plots"]
    return {name: props for entry in entries for name, props in entry.items()}


def files_of(config: Path, props: dict[str, Any], name: str) -> list[Path]:
    names = props["y"] if isinstance(props["y"], dict) else {name: props["y"]}
    return [(config.parent / f).resolve() for f in names]


@pytest.mark.parametrize(
    ("classes", "expected"),
    [
        (["0", "1"], {"Receiver operating characteristic (ROC)", "Precision-Recall Curve", "Confusion Matrix"}),
        (["a", "b", "c"], {"Confusion Matrix", "ROC: class a vs rest", "ROC: class b vs rest", "ROC: class c vs rest"}),
        (None, {"Predicted vs actual", "Residuals"}),
    ],
    ids=["binary", "multiclass", "regression"],
)
def test_evaluate_declares_exactly_the_plots_of_its_task(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, classes: list[str] | None, expected: set[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    X = pd.DataFrame({"x": range(60)})
    with live("metrics/evaluate") as logger:
        if classes:
            evaluate_classification(logger, Model(classes), X, pd.Series(np.resize(classes, 60)), 0.5)
        else:
            evaluate_regression(logger, Model(), X, pd.Series(np.linspace(0, 1, 60)))
    plots = declared(Path("metrics/evaluate"))
    assert {props["title"] for props in plots.values()} == expected
    written = {p.resolve() for p in Path("metrics/evaluate").rglob("*.json")}
    assert {f for name, props in plots.items() for f in files_of(plots_config(Path("metrics/evaluate")), props, name)} == written
    assert not [p for p in tmp_path.rglob("*") if ".tmp-" in p.name]


def test_a_training_curve_is_one_titled_plot_and_no_curve_declares_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with live("metrics/train") as logger:
        for step in range(3):
            logger.log_metric("train_loss", 1.0 / (step + 1))
            logger.log_metric("val_loss", 2.0 / (step + 1))
            logger.next_step()
    plots = declared(Path("metrics/train"))
    assert [props["title"] for props in plots.values()] == ["Training curve: train_loss, val_loss"]
    with live("metrics/train"):
        pass  # a model that does not iterate (random forest)
    assert declared(Path("metrics/train")) == {}
    assert not Path("metrics/train/plots").exists(), "the previous run's curve is replaced as a whole"


def test_a_step_writes_the_curve_rows_and_nothing_else(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """dvclive's next_step rewrote its summary, queued Studio data and fsynced a VS Code signal
    file at every step (0.5-1 s for 300 LightGBM rounds); the stage's logger only counts steps."""
    import dvclive.live

    def per_step_work(*args: Any) -> None:
        raise AssertionError("dvclive's per-step sync or VS Code signal ran")

    monkeypatch.chdir(tmp_path)
    with live("metrics/train") as logger, pytest.MonkeyPatch.context() as patch:
        patch.setattr(dvclive.live, "mark_dvclive_step_completed", per_step_work)
        patch.setattr(logger, "sync", per_step_work)
        for step in range(3):
            logger.log_metric("loss", 1.0 / (step + 1))
            logger.next_step()
        # leaving the patch restores sync: the end of the run syncs once, as before
    rows = Path("metrics/train/plots/metrics/loss.tsv").read_text().splitlines()
    assert rows == ["step\tloss", "0\t1.0", "1\t0.5", "2\t0.3333333333333333"]


def test_curves_are_exact_at_a_bounded_number_of_cut_offs() -> None:
    """ROC and precision-recall are drawn from (label, score, count) rows: at most CURVE_POINTS
    thresholds, each point the exact rates of the raw scores at that threshold."""
    from sklearn.metrics import precision_recall_curve, roc_curve

    from mmp.pipeline.evaluation import curve_rows

    rng = np.random.default_rng(3)
    score = np.round(rng.random(50_000), 7)  # many distinct scores, a few ties
    is_pos = (rng.random(50_000) < score).astype(int)
    label, lowered, weight = curve_rows(is_pos, score, points=200)
    assert weight.sum() == len(score) and len(lowered) <= 400
    fpr, tpr, cuts = roc_curve(label, lowered, sample_weight=weight)
    precision, recall, pr_cuts = precision_recall_curve(label, lowered, sample_weight=weight)
    assert len(cuts) <= 201 and len(pr_cuts) <= 200 and set(cuts[1:]) <= set(score)
    for f, t, cut in zip(fpr[1:], tpr[1:], cuts[1:], strict=True):
        chosen = score >= cut
        assert (f, t) == (chosen[is_pos == 0].mean(), chosen[is_pos == 1].mean())
    for p, r, cut in zip(precision[:-1], recall[:-1], pr_cuts, strict=True):
        chosen = score >= cut
        assert np.isclose(p, is_pos[chosen].mean(), rtol=1e-12) and np.isclose(r, chosen[is_pos == 1].mean(), rtol=1e-12)


def test_the_confusion_matrix_file_counts_dvclives_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The stage logger writes one record per (actual, predicted) pair with its count, where
    dvclive writes one per test row: the same counts, declared with the counted template."""
    import json
    from collections import Counter

    from dvclive import Live

    monkeypatch.chdir(tmp_path)
    truth, pred = ["0", "1", "1", "0", "1", "1"], ["0", "1", "0", "0", "1", "1"]
    with live("metrics/evaluate") as logger:
        logger.log_sklearn_plot("confusion_matrix", truth, pred, name="confusion_matrix", title="Test rows")
    with Live(dir="plain", save_dvc_exp=False, dvcyaml=None, report=None) as plain:
        plain.log_sklearn_plot("confusion_matrix", truth, pred, name="confusion_matrix")
    written = json.loads(Path("metrics/evaluate/plots/sklearn/confusion_matrix.json").read_text())
    per_row = Counter((r["actual"], r["predicted"]) for r in json.loads(Path("plain/plots/sklearn/confusion_matrix.json").read_text()))
    assert written == [{"actual": a, "predicted": p, "count": n} for (a, p), n in sorted(per_row.items())]
    assert [r["count"] for r in written] == [2, 1, 3]
    props = declared(Path("metrics/evaluate"))["../../evaluate/plots/sklearn/confusion_matrix.json"]
    assert (props["template"], props["title"]) == ("confusion_counts", "Test rows")


def counted_templates() -> dict[str, str]:
    """The files .dvc/plots/ must hold: DVC's confusion templates summing each record's ``count``
    instead of counting records (COUNTED_TEMPLATES). A record without one (dvclive's own, one per
    test row, as revisions before the counts hold) counts one, so `dvc plots diff` against such a
    revision draws its matrix too."""
    import json

    from dvc_render.vega_templates import TEMPLATES

    from mmp.pipeline.stages import COUNTED_TEMPLATES

    def summed(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: summed(v) for k, v in node.items()}
        if not isinstance(node, list):
            return node
        out = []
        for item in node:
            if isinstance(item, dict) and item.get("aggregate") == [{"op": "count", "as": "xy_count"}]:
                out.append(ROWS)
                item = {**item, "aggregate": [{"op": "sum", "field": "rows", "as": "xy_count"}]}
            out.append(summed(item))
        return out

    builtin = {t.DEFAULT_NAME: t().content for t in TEMPLATES}
    return {f"{counted}.json": json.dumps(summed(builtin[name]), indent=2) + "\n" for name, counted in COUNTED_TEMPLATES.items()}


ROWS = {"calculate": "isValid(datum.count) ? datum.count : 1", "as": "rows"}  # the test rows a record stands for


def test_the_counted_confusion_templates_are_dvcs_own_summing_the_counts() -> None:
    templates = ROOT / ".dvc" / "plots"
    for name, content in counted_templates().items():
        assert '"op": "sum"' in content and '"op": "count"' not in content
        assert (templates / name).read_text() == content, (
            f".dvc/plots/{name} differs from DVC's template: rewrite it with `python -m tests.unit.test_plot_declarations`"
        )


@pytest.mark.cli
def test_dvc_draws_the_counted_confusion_matrix_and_dvclives_per_row_records_alike(tmp_path: Path) -> None:
    """`dvc plots show --json` fills the counted template with the records, and the filled spec,
    rendered by vl-convert (the offline Vega of `mmp report`), shows the counts as cells. The
    same matrix written the dvclive way, one record per test row, as a revision before the
    counts holds it, renders the same cells (so `dvc plots diff` against it is right)."""
    import json
    import re
    import shutil
    import subprocess
    import sys

    import vl_convert

    from mmp.ops.reporting.plots import static_spec

    dvc = [sys.executable, "-m", "dvc"]
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run([*dvc, "init", "-q"], cwd=tmp_path, check=True)
    shutil.copytree(ROOT / ".dvc" / "plots", tmp_path / ".dvc" / "plots")
    counted = [{"actual": "0", "predicted": "0", "count": 7}, {"actual": "1", "predicted": "0", "count": 2}]
    per_row = [{"actual": r["actual"], "predicted": r["predicted"]} for r in counted for _ in range(r["count"])]
    (tmp_path / "cm.json").write_text(json.dumps(counted))
    (tmp_path / "rows.json").write_text(json.dumps(per_row))
    declared = "".join(
        f"  - {f}:\n      template: confusion_counts\n      x: actual\n      y: predicted\n" for f in ("cm.json", "rows.json")
    )
    (tmp_path / "dvc.yaml").write_text("plots:\n" + declared)
    shown = json.loads(subprocess.run([*dvc, "plots", "show", "--json"], cwd=tmp_path, capture_output=True, text=True, check=True).stdout)
    specs = {f: shown["data"][f][0]["content"] for f in ("cm.json", "rows.json")}
    assert specs["cm.json"]["spec"]["transform"][:2] == [
        ROWS,
        {"aggregate": [{"op": "sum", "field": "rows", "as": "xy_count"}], "groupby": ["predicted", "actual"]},
    ]
    assert [r["count"] for r in specs["cm.json"]["data"]["values"]] == [7, 2]
    cells = {f: sorted(re.findall(r">(\d+)</text>", vl_convert.vegalite_to_svg(static_spec(spec, "cm")))) for f, spec in specs.items()}
    assert cells["cm.json"] == cells["rows.json"]
    assert {"7", "2"} <= set(cells["cm.json"]), cells


if __name__ == "__main__":  # rewrite .dvc/plots/ from the installed DVC's templates
    for file_name, text in counted_templates().items():
        (ROOT / ".dvc" / "plots" / file_name).parent.mkdir(exist_ok=True)
        (ROOT / ".dvc" / "plots" / file_name).write_text(text)
