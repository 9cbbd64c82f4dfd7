"""The timeline of a run of days, from its events: one row per day (the champion's metric, the
threshold, the drift score, retrains, deployments, alerts), a PNG of it and the events table."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from typing import Any

import pandas as pd

COLUMNS = ("day", "value", "threshold", "drift", "attempts", "best_attempt", "deployed", "alert", "quarantined")


def timeline(events: Sequence[Any]) -> pd.DataFrame:
    """One row per day that has events, in day order."""
    days: dict[Any, dict[str, Any]] = {}
    for e in events:
        row = days.setdefault(e.day, {"day": e.day, "attempts": 0, "deployed": None, "alert": False, "quarantined": False})
        p = e.payload
        if e.kind == "gate":
            row.update(value=p["value"], threshold=p["threshold"])
        elif e.kind == "drift":
            row["drift"] = p["score"]
        elif e.kind == "retrain_attempt":
            row["attempts"] += 1
            if "value" in p:
                row["best_attempt"] = max(row.get("best_attempt") or float("-inf"), p["value"])
        elif e.kind == "deployment":
            row["deployed"] = e.version or p.get("version")
        elif e.kind == "alert":
            row["alert"] = True
        elif e.kind == "quarantine":
            row["quarantined"] = True
    frame = pd.DataFrame([days[k] for k in sorted(days)], columns=list(COLUMNS))
    return frame


def timeline_png(frame: pd.DataFrame, metric: str) -> bytes:
    """The daily metric against the threshold, the drift score, and markers for retrains,
    deployments and alerts."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates
    import matplotlib.pyplot as plt

    x = pd.to_datetime(frame["day"])
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 5.5), sharex=True, height_ratios=[3, 1.4])
    top.plot(x, frame["value"], marker="o", color="#1f77b4", label=f"champion {metric}")
    top.plot(x, frame["threshold"], color="black", linestyle="--", linewidth=1, label="threshold")
    for mask, marker, color, label, y in (
        (frame["attempts"] > 0, "x", "#ff7f0e", "retrain (best attempt)", frame["best_attempt"]),
        (frame["deployed"].notna(), "^", "#2ca02c", "deployment", frame["best_attempt"]),
        (frame["alert"], "v", "#d62728", "alert", frame["value"]),
        (frame["quarantined"], "s", "#9467bd", "quarantined batch", frame["threshold"]),
    ):
        if mask.any():
            top.scatter(x[mask], y[mask], marker=marker, s=90, color=color, label=label, zorder=3)
    top.set_ylabel(metric)
    top.legend(loc="best", fontsize=8)
    top.set_title(f"Daily {metric} of the champion on each day's batch")
    bottom.bar(x, frame["drift"].fillna(0), color="#7f7f7f")
    bottom.axhline(1.0, color="black", linestyle="--", linewidth=1)
    bottom.set_ylabel("drift score")
    locator = matplotlib.dates.AutoDateLocator()
    bottom.xaxis.set_major_locator(locator)
    bottom.xaxis.set_major_formatter(matplotlib.dates.ConciseDateFormatter(locator))
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def events_frame(events: Sequence[Any]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "day": e.day.isoformat(),
                "kind": e.kind,
                "key": e.key,
                "version": e.version or "",
                "payload": json.dumps(e.payload, sort_keys=True),
            }
            for e in events
        ],
        columns=["day", "kind", "key", "version", "payload"],
    )


def markdown(frame: pd.DataFrame, width: int = 80) -> str:
    """A Markdown table (no extra dependency: pandas' ``to_markdown`` needs tabulate)."""
    cells = frame.astype(str).map(lambda v: (v if len(v) <= width else v[: width - 3] + "...").replace("|", "\\|"))
    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(row) + " |" for row in cells.itertuples(index=False)]
    return "\n".join(lines) + "\n"
