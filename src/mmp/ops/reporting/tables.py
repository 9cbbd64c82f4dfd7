"""Markdown tables from DVC's diff JSON. Pure functions: dicts in, text out."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

Diff = Mapping[str, Mapping[str, Any]]  # {key: {"old": ..., "new": ..., "diff": ...}}


def fmt(value: Any) -> str:
    """A cell: numbers to 6 significant digits, absent values as an em dash."""
    if value is None:
        return "—"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:.6g}"
    text = value if isinstance(value, str) else json.dumps(value)
    return text.replace("|", "\\|")


def delta(old: Any, new: Any, higher_is_better: bool | None) -> str:
    """``+0.0388 (+5.19%) ✅ better``; the verdict only where the metric has a direction."""
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (old, new)):
        return "new" if old is None else ("removed" if new is None else "—")
    change = new - old
    if change == 0:
        return "0"
    text = f"{change:+.4g}"
    if old:
        text += f" ({change / abs(old):+.2%})"
    if higher_is_better is not None:
        better = (change > 0) == higher_is_better
        text += " ✅ better" if better else " ❌ worse"
    return text


def is_unchanged(rows: Diff) -> bool:
    return all(row.get("old") == row.get("new") for row in rows.values())


def metrics_table(rows: Diff, base: str, target: str, directions: Mapping[str, bool]) -> str:
    """One row per metric, sorted by name: base value, target value and the change."""
    lines = [f"| Metric | {base} | {target} | Change |", "|---|---:|---:|---|"]
    for name in sorted(rows):
        row = rows[name]
        lines.append(
            f"| {name} | {fmt(row.get('old'))} | {fmt(row.get('new'))} | {delta(row.get('old'), row.get('new'), directions.get(name))} |"
        )
    return "\n".join(lines)


def params_table(rows: Diff, base: str, target: str) -> str:
    lines = [f"| Param | {base} | {target} |", "|---|---|---|"]
    lines += [f"| {key} | {fmt(rows[key].get('old'))} | {fmt(rows[key].get('new'))} |" for key in sorted(rows)]
    return "\n".join(lines)
