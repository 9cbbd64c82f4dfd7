"""A drift report on disk: ``drift.json``, PNG plots and a self-contained ``index.html``.

The numbers come from :mod:`mmp.inference.drift` (the gate never depends on a report
library). The directory is written whole, atomically: a reader sees the previous report or the
new one, never a mix. Plots: ``summary.png`` (each column's statistic against its threshold)
and one ``<column>.png`` per drifted column (reference against current).
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd

from mmp.core.errors import MMPError
from mmp.core.io import atomic_path, to_jsonable
from mmp.inference.drift import ColumnDrift, DriftReport, category_counts, numeric_pair
from mmp.ops.reporting.plots import slug

REPORT_FILE = "drift.json"
TOP_CATEGORIES = 15  # bars shown per categorical plot (the most frequent on either side)


def write_drift_output(out: Path, report: DriftReport, reference: pd.DataFrame, current: pd.DataFrame) -> None:
    """The report under ``out`` (replaced whole). ``reference`` and ``current`` hold the
    compared columns, and the predictions under ``prediction``, for the plots."""
    if out.is_dir() and any(out.iterdir()) and not (out / REPORT_FILE).is_file():
        raise MMPError(
            "--output", f"{out} is a non-empty directory without a {REPORT_FILE}", "a new directory or an earlier drift report's"
        )
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    pngs = {"summary.png": summary_png(report)}
    for col in report.all:
        if col.drifted:
            pngs[f"{slug(col.column)}.png"] = column_png(col, reference[col.column], current[col.column])
    with atomic_path(out) as tmp:
        tmp.mkdir()
        (tmp / REPORT_FILE).write_text(json.dumps(to_jsonable(report.to_json()), indent=2, sort_keys=True) + "\n")
        for name, data in pngs.items():
            (tmp / name).write_bytes(data)
        (tmp / "index.html").write_text(render_html(report, pngs))


def _png(fig: object) -> bytes:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")  # type: ignore[attr-defined]
    plt.close(fig)  # type: ignore[arg-type]
    return buffer.getvalue()


def summary_png(report: DriftReport) -> bytes:
    """Each column's gate statistic over its threshold (p-values inverted): past 1 is drift."""
    import matplotlib.pyplot as plt

    cols = sorted(report.all, key=lambda c: c.severity)
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(cols) + 1.5))
    ratios = [min(max(c.severity, 1e-3), 1e3) for c in cols]
    ax.barh([c.column for c in cols], ratios, color=["#d62728" if c.drifted else "#7f7f7f" for c in cols])
    ax.axvline(1.0, color="black", linestyle="--", linewidth=1)
    ax.set_xscale("log")
    for y, c in enumerate(cols):
        ax.annotate(f" {c.statistic} {c.value:.3g} (threshold {c.threshold:g})", (ratios[y], y), va="center", fontsize=8)
    ax.set_xlabel("statistic / threshold (p-values: threshold / p); past the dashed line = drift")
    ax.set_title(f"Drift: {len(report.drifted)} of {len(cols)} drifted")
    return _png(fig)


def column_png(col: ColumnDrift, reference: pd.Series, current: pd.Series) -> bytes:
    """Reference against current: histograms of a number, category shares of a category."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    if col.kind == "numeric":
        ref, cur = (v[~np.isnan(v)] for v in numeric_pair(reference, current))
        edges = np.histogram_bin_edges(np.concatenate([ref, cur]), bins=30).tolist()
        ax.hist(ref, bins=edges, density=True, alpha=0.5, label=f"reference ({len(reference)} rows)")
        ax.hist(cur, bins=edges, density=True, alpha=0.5, label=f"current ({len(current)} rows)")
        ax.set_ylabel("density")
    else:
        ref_counts, cur_counts, names = category_counts(reference, current)
        shares = pd.DataFrame({"reference": ref_counts / ref_counts.sum(), "current": cur_counts / cur_counts.sum()}, index=names)
        shown = shares.loc[shares.max(axis=1).sort_values(ascending=False).index[:TOP_CATEGORIES]]
        x = np.arange(len(shown))
        ax.bar(x - 0.2, shown["reference"], width=0.4, label="reference")
        ax.bar(x + 0.2, shown["current"], width=0.4, label="current")
        ax.set_xticks(x, shown.index, rotation=30, ha="right")
        ax.set_ylabel("share of rows")
    ax.legend()
    ax.set_title(f"{col.column}: {col.statistic} {col.value:.3g} (threshold {col.threshold:g})")
    return _png(fig)


def render_html(report: DriftReport, pngs: dict[str, bytes]) -> str:
    """One offline page: the table of every column and the plots, inlined as data URIs."""
    rows = "\n".join(
        "<tr{cls}><td>{name}</td><td>{kind}</td><td>{stat}</td><td>{value:.4g}</td><td>{thr:g}</td><td>{drifted}</td><td>{others}</td></tr>".format(
            cls=' class="drift"' if c.drifted else "",
            name=html.escape(c.column),
            kind=c.kind,
            stat=c.statistic,
            value=c.value,
            thr=c.threshold,
            drifted="yes" if c.drifted else "no",
            others=", ".join(f"{k} {v:.4g}" for k, v in c.statistics.items()),
        )
        for c in report.all
    )
    skipped = "".join(f"<li>{html.escape(k)}: {html.escape(v)}</li>" for k, v in report.skipped.items())
    images = "\n".join(
        f'<figure><img alt="{html.escape(n)}" src="data:image/png;base64,{base64.b64encode(b).decode()}"></figure>' for n, b in pngs.items()
    )
    verdict = f"Drift in {len(report.drifted)} column(s): {html.escape(', '.join(report.drifted))}" if report.drifted else "No drift"
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Drift report</title>
<style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:.2em .8em;text-align:left}}tr.drift{{background:#fdd}}img{{max-width:100%}}</style>
</head><body>
<h1>Drift report</h1>
<p><b>{verdict}</b>. Reference: {report.reference_rows} rows; current: {report.current_rows} rows.</p>
<table><tr><th>column</th><th>kind</th><th>gate</th><th>value</th><th>threshold</th><th>drifted</th><th>all statistics</th></tr>
{rows}
</table>
{f"<p>Not compared:</p><ul>{skipped}</ul>" if skipped else ""}
{images}
</body></html>
"""
