"""The experiments of ``dvc exp show`` as a table that fits a terminal: the experiment name, the
params that differ between the rows and the headline test metrics. Built on DVC's documented
``dvc exp show --json``; the rendering is pure (rows in, text out)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmp.ops.reporting.dvc_data import dvc_json

# The test metrics shown by default, in this order, when the scores file has them: the ranking
# metrics first, then the loss. `--all` shows every metric of every metrics file.
HEADLINE = ("roc_auc", "pr_auc", "f1", "log_loss", "rmse", "mae", "r2", "qini", "auuc", "pehe")
SCORES_FILE = "metrics/evaluate.json"
VALUE_WIDTH = 22  # a longer param value is cut with "…" (the full value is in --json)
GAP = "  "


@dataclass(frozen=True)
class ExpRow:
    """One row of ``dvc exp show``: the workspace, a baseline commit or an experiment."""

    name: str
    rev: str
    kind: str  # workspace | baseline | experiment
    params: dict[str, Any] = field(default_factory=dict)  # dotted keys, every params file merged
    metrics: dict[str, Any] = field(default_factory=dict)  # "<file>:<dotted key>"


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings joined with dots, as ``dvc exp show`` names its columns."""
    if not isinstance(tree, Mapping) or not tree:
        return {prefix: tree} if prefix else {}
    out: dict[str, Any] = {}
    for key, value in tree.items():
        out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def _row(entry: Mapping[str, Any], name: str, kind: str) -> ExpRow:
    data = entry.get("data") or {}
    params: dict[str, Any] = {}
    for content in (data.get("params") or {}).values():
        params.update(flatten((content or {}).get("data") or {}))
    metrics: dict[str, Any] = {}
    for path, content in (data.get("metrics") or {}).items():
        metrics.update({f"{path}:{k}": v for k, v in flatten((content or {}).get("data") or {}).items()})
    return ExpRow(name, str(entry.get("rev", "")), kind, params, metrics)


def parse_exp_show(shown: Iterable[Mapping[str, Any]]) -> list[ExpRow]:
    """The rows of ``dvc exp show --json``: each baseline, then its experiments."""
    rows = []
    for base in shown:
        rev = str(base.get("rev", ""))
        kind = "workspace" if rev == "workspace" else "baseline"
        rows.append(_row(base, base.get("name") or (rev if kind == "workspace" else rev[:7]), kind))
        for exp in base.get("experiments") or []:
            for run in exp.get("revs") or []:
                rows.append(_row(run, run.get("name") or exp.get("name") or str(run.get("rev", ""))[:7], "experiment"))
    return rows


def load_rows(repo: Path, all_commits: bool = False) -> list[ExpRow]:
    return parse_exp_show(dvc_json(repo, "exp", "show", *(["--all-commits"] if all_commits else [])))


def changed_params(rows: list[ExpRow]) -> list[str]:
    """Dotted param keys whose value is not the same in every row (absent counts as a value),
    the shallow ones first: a changed model family before its hyperparameters."""
    keys = {k for row in rows for k in row.params}
    changed = [k for k in keys if len({repr(row.params.get(k)) for row in rows}) > 1]
    return sorted(changed, key=lambda k: (k.count("."), k))


def headline_metrics(rows: list[ExpRow], every: bool = False) -> list[str]:
    """Metric columns present in some row: the headline test metrics, or every numeric one."""
    present = {k for row in rows for k, v in row.metrics.items() if isinstance(v, int | float) and not isinstance(v, bool)}
    if every:
        return sorted(present)
    return [f"{SCORES_FILE}:{m}" for m in HEADLINE if f"{SCORES_FILE}:{m}" in present]


# The keys of a search range: alone they say nothing, so a label keeps the param's name too.
RANGE_KEYS = {"type", "low", "high", "log", "step", "default", "choices"}


def short_labels(keys: list[str]) -> dict[str, str]:
    """Each key by its shortest dotted suffix that no other key shares (``n_estimators`` rather
    than ``model.hyperparameters.n_estimators``; ``learning_rate.low`` rather than ``low``)."""
    labels = {}
    for key in keys:
        parts = key.split(".")
        for size in range(1 + (parts[-1] in RANGE_KEYS and len(parts) > 1), len(parts) + 1):
            label = ".".join(parts[-size:])
            if not any(other != key and (other == label or other.endswith("." + label)) for other in keys):
                break
        labels[key] = label
    return labels


def cell(value: Any, limit: int | None = VALUE_WIDTH) -> str:
    if value is None:
        text = "-"
    elif isinstance(value, float):
        text = f"{value:.4f}"
    elif isinstance(value, list):
        text = ",".join(str(v) for v in value)
    else:
        text = str(value)
    if limit is None or len(text) <= limit:
        return text
    # The end of a dotted name says most (``…RandomForestClassifier``); a number keeps its start.
    return "…" + text[-(limit - 1) :] if isinstance(value, str) else text[: limit - 1] + "…"


@dataclass(frozen=True)
class Column:
    label: str
    cells: list[str]

    @property
    def width(self) -> int:
        return max(len(self.label), *(len(c) for c in self.cells))


def render(rows: list[ExpRow], width: int = 120, every: bool = False) -> str:
    """The table: experiment, changed params, headline metrics. Without ``every``, params that
    would make a line longer than ``width`` are left out and counted under the table."""
    if not rows:
        return "no experiments: run `dvc exp run` first"
    limit = None if every else VALUE_WIDTH
    metric_keys = headline_metrics(rows, every)
    metric_labels = short_labels([k.split(":", 1)[1] for k in metric_keys])
    name = Column("Experiment", [r.name for r in rows])
    metrics = [Column(metric_labels[k.split(":", 1)[1]], [cell(r.metrics.get(k)) for r in rows]) for k in metric_keys]
    params_keys = changed_params(rows)
    labels = short_labels(params_keys)
    used = sum(c.width + len(GAP) for c in (name, *metrics))
    params, hidden = [], 0
    for key in params_keys:
        column = Column(cell(labels[key], limit), [cell(r.params.get(key), limit) for r in rows])
        if not every and used + column.width + len(GAP) > width:
            hidden += 1
            continue
        params.append(column)
        used += column.width + len(GAP)
    columns = [name, *params, *metrics]
    lines = [GAP.join(c.label.ljust(c.width) for c in columns).rstrip()]
    lines.append(GAP.join("-" * c.width for c in columns))
    for i in range(len(rows)):
        lines.append(GAP.join(c.cells[i].ljust(c.width) for c in columns).rstrip())
    if not params_keys:
        lines.append("(every row has the same params)")
    if hidden:
        lines.append(f"{hidden} more changed param(s) do not fit in {width} columns: mmp exps --all (or --json)")
    return "\n".join(lines)


def as_json(rows: list[ExpRow], every: bool = False) -> list[dict[str, Any]]:
    """The same selection, machine-readable and never cut."""
    metric_keys, params_keys = headline_metrics(rows, every), changed_params(rows)
    return [
        {
            "name": r.name,
            "rev": r.rev,
            "kind": r.kind,
            "params": {k: r.params.get(k) for k in params_keys},
            "metrics": {k: r.metrics.get(k) for k in metric_keys},
        }
        for r in rows
    ]
