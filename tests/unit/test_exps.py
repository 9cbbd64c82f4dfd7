"""`mmp exps` renders `dvc exp show --json` legibly: names, the params that differ, headline
metrics, within the width."""

from __future__ import annotations

from typing import Any

from mmp.ops.exps import as_json, changed_params, parse_exp_show, render, short_labels


def entry(rev: str, name: str | None, model: str, trees: int, roc_auc: float, **extra: Any) -> dict[str, Any]:
    hyper: dict[str, Any] = {"n_estimators": trees, "n_jobs": 2}
    if model.startswith("lightgbm"):
        hyper["learning_rate"] = {"type": "float", "low": 0.01, "high": 0.3, "log": True, "default": 0.05}
    params = {"seed": 42, "data": {"rows": 20000, "contract": "credit_default"}, "model": {"class_path": model, "hyperparameters": hyper}}
    metrics = {"roc_auc": roc_auc, "pr_auc": 0.41, "f1": 0.33, "log_loss": 0.27, "accuracy": 0.9, "precision": 0.5, "recall": 0.25}
    data = {
        "rev": rev,
        "params": {"params.yaml": {"data": params}},
        "metrics": {"metrics/evaluate.json": {"data": metrics}, "metrics/data.json": {"data": {"rows": {"train": 16000}}}},
    }
    return {"rev": rev, "name": name, "data": data, **extra}


def shown() -> list[dict[str, Any]]:
    names = [
        ("a1", "fuzzy-ibex", "lightgbm.LGBMClassifier", 500, 0.8123),
        ("b2", "lumpy-ring", "sklearn.ensemble.RandomForestClassifier", 200, 0.7912),
        ("c3", "crisp-tuna-with-a-long-name", "sklearn.linear_model.LogisticRegression", 100, 0.7701),
    ]
    experiments = [{"executor": None, "name": n, "revs": [entry(r, n, m, t, a)]} for r, n, m, t, a in names]
    return [
        entry("workspace", None, "lightgbm.LGBMClassifier", 300, 0.8001),
        entry("0123456789abcdef", "main", "lightgbm.LGBMClassifier", 300, 0.8001, experiments=experiments),
    ]


def test_rows_are_the_workspace_the_baseline_and_each_experiment() -> None:
    rows = parse_exp_show(shown())
    assert [(r.name, r.kind) for r in rows] == [
        ("workspace", "workspace"),
        ("main", "baseline"),
        ("fuzzy-ibex", "experiment"),
        ("lumpy-ring", "experiment"),
        ("crisp-tuna-with-a-long-name", "experiment"),
    ]
    assert rows[2].params["model.hyperparameters.n_estimators"] == 500
    assert rows[2].metrics["metrics/evaluate.json:roc_auc"] == 0.8123


def test_only_params_that_differ_shallow_first() -> None:
    changed = changed_params(parse_exp_show(shown()))
    assert changed[:2] == ["model.class_path", "model.hyperparameters.n_estimators"]
    assert "seed" not in changed and "data.contract" not in changed and "model.hyperparameters.n_jobs" not in changed
    assert short_labels(changed)["model.hyperparameters.n_estimators"] == "n_estimators"


def test_table_fits_120_columns_and_names_every_experiment() -> None:
    text = render(parse_exp_show(shown()), width=120)
    lines = text.splitlines()
    assert max(map(len, lines)) <= 120, text
    header = lines[0].split()
    assert header[:3] == ["Experiment", "class_path", "n_estimators"]
    assert {"roc_auc", "pr_auc", "f1", "log_loss"} <= set(header) and "precision" not in header
    for name in ("workspace", "main", "fuzzy-ibex", "lumpy-ring", "crisp-tuna-with-a-long-name"):
        assert any(line.startswith(name) for line in lines), name
    assert "0.8123" in text
    assert "…" in text, "a long class path is cut"
    narrow = render(parse_exp_show(shown()), width=80)
    assert max(map(len, narrow.splitlines())) <= 80, narrow
    assert "more changed param(s) do not fit in 80 columns: mmp exps --all" in narrow


def test_all_and_json_show_everything_uncut() -> None:
    rows = parse_exp_show(shown())
    wide = render(rows, width=120, every=True)
    assert "sklearn.ensemble.RandomForestClassifier" in wide and "precision" in wide and "16000" in wide
    assert "learning_rate.low" in wide, "a range's keys keep the param's name"
    data = as_json(rows)
    assert data[3]["name"] == "lumpy-ring"
    assert data[3]["params"]["model.class_path"] == "sklearn.ensemble.RandomForestClassifier"
    assert data[3]["metrics"]["metrics/evaluate.json:roc_auc"] == 0.7912
    assert render([], 120).startswith("no experiments")
