"""The data quality report (``mmp.data.quality``) as files readable offline: ``quality.json``,
PNG figures and an ``index.html`` page that shows them with the findings and the per-column
table. The figures are built by :func:`figures`, which the EDA notebook calls too, so the
notebook and the report show the same pictures."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mmp.core.io import atomic_path, write_json

if TYPE_CHECKING:
    from matplotlib.figure import Figure

COLS = 4  # histograms per row of the grid

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Data quality</title>
<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}th{background:#eee}
.error{color:#b00}.warning{color:#a60}img{max-width:100%}</style></head><body>
<h1>Data quality</h1>
<p>{{ report.rows.train }} train rows, {{ report.rows.test }} test rows, {{ report.columns|length }} columns.
Target: {{ report.roles.target|join(", ") }}{% if report.roles.id %}; id: {{ report.roles.id|join(", ") }}{% endif %}
{% if report.roles.time %}; time: {{ report.roles.time }}{% endif %}.</p>
<h2>Findings</h2>
{% if report.findings %}<ul>{% for f in report.findings %}
<li class="{{ f.severity }}"><b>{{ f.severity }}</b> {{ f.column }}: {{ f.check }}: {{ f.rule }}</li>{% endfor %}</ul>
{% else %}<p>None.</p>{% endif %}
<h2>Columns</h2>
<table><tr><th>column</th><th>type</th><th>missing</th><th>distinct</th><th>min</th><th>max</th>
<th>{{ report.leakage.single_feature_score.metric }} alone</th></tr>
{% for name, c in report.columns.items() %}<tr><td style="text-align:left">{{ name }}</td><td>{{ c.type }}</td>
<td>{{ "%.2f%%"|format(100 * c.missing_rate) }}</td><td>{{ c.distinct }}</td><td>{{ c.get("min", "") }}</td>
<td>{{ c.get("max", "") }}</td><td>{{ scores.get(name) if scores.get(name) is not none else "" }}</td></tr>
{% endfor %}</table>
{% for name in images %}<h2>{{ titles[name] }}</h2><img src="{{ name }}.png" alt="{{ titles[name] }}">
{% endfor %}</body></html>
"""

TITLES = {
    "histograms": "Distributions",
    "target": "Target",
    "leakage": "One feature alone against the target",
    "time": "Rows and target over time",
}


# The histogram grid's margins and gaps in inches, fixed: they hold its longest texts (a title,
# count tick labels, a 12-character category label at 60 degrees), so the grid needs no layout
# engine. With one, savefig draws a figure twice (to lay it out, then to print) and "tight" measures
# every tick label of every subplot: most of the prepare stage's drawing time.
GRID_MARGINS = {"left": 0.5, "right": 0.18, "bottom": 0.7, "top": 0.32, "wspace": 0.62, "hspace": 0.92}


def _figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    # "tight": "constrained" looks alike and draws twice as slowly
    return Figure(figsize=(width, height), layout="tight")


def _grid(rows: int, cols: int, cell: tuple[float, float]) -> Figure:
    """A figure of ``rows`` x ``cols`` cells of ``cell`` inches, laid out by GRID_MARGINS."""
    from matplotlib.figure import Figure

    width, height = cell[0] * cols, cell[1] * rows
    m = GRID_MARGINS
    axes_width = (width - m["left"] - m["right"] - (cols - 1) * m["wspace"]) / cols
    axes_height = (height - m["bottom"] - m["top"] - (rows - 1) * m["hspace"]) / rows
    fig = Figure(figsize=(width, height), layout=None)
    # subplots_adjust takes fractions of the figure, and gaps as fractions of the mean axes size
    fig.subplots_adjust(
        left=m["left"] / width,
        right=1 - m["right"] / width,
        bottom=m["bottom"] / height,
        top=1 - m["top"] / height,
        wspace=m["wspace"] / axes_width,
        hspace=m["hspace"] / axes_height,
    )
    return fig


def histograms(report: dict[str, Any]) -> Figure:
    """One small histogram (or bar chart of the most frequent values) per column."""
    columns = report["columns"]
    rows = max(1, math.ceil(len(columns) / COLS))
    fig = _grid(rows, COLS, (3.2, 2.2))
    for i, (name, profile) in enumerate(columns.items()):
        ax = fig.add_subplot(rows, COLS, i + 1)
        hist = profile["histogram"]
        if "edges" in hist and profile["type"] == "numeric":
            edges = hist["edges"]
            ax.stairs(hist["counts"], edges, fill=True)
        else:
            labels = hist.get("values") or [str(e)[:10] for e in hist.get("edges", [])[:-1]]
            ax.bar(range(len(hist["counts"])), hist["counts"])
            ax.set_xticks(range(len(labels)), [str(v)[:12] for v in labels], rotation=60, fontsize=6)
        # y=1: the title's place, given, not searched for above the tick labels at each draw; the
        # counts (of at most mmp.data.quality.SAMPLE_ROWS rows, from 0) never get an offset text there
        ax.set_title(f"{name} ({profile['missing_rate']:.1%} missing)", fontsize=8, y=1)
        ax.tick_params(labelsize=6)
    return fig


def target(report: dict[str, Any]) -> Figure:
    """The class balance, or each regression target's mean and std, and its histogram."""
    fig = _figure(5, 3)
    ax = fig.add_subplot()
    balance = report["target"].get("balance")
    if balance:
        ax.bar(list(balance), list(balance.values()))
        ax.set_ylabel("share of rows")
        ax.set_title("class balance")
    else:
        name = report["roles"]["target"][0]
        hist = report["columns"][name]["histogram"]
        ax.stairs(hist["counts"], hist["edges"], fill=True)
        ax.set_title(f"{name} distribution")
    return fig


def leakage(report: dict[str, Any]) -> Figure:
    """Each feature's one-feature score, with the threshold above which it is a leak."""
    section = report["leakage"]["single_feature_score"]
    scores = {c: s for c, s in section["scores"].items() if s is not None}
    names = sorted(scores, key=scores.__getitem__)
    fig = _figure(6, 0.8 + 0.25 * max(len(names), 1))
    ax = fig.add_subplot()
    leaks = {f["column"] for f in report["findings"] if f["check"] == "single_feature"}
    ax.barh(names, [scores[n] for n in names], color=["#c33" if n in leaks else "#48a" for n in names])
    ax.set_xlim(0.5 if section["metric"] == "AUC" else 0, 1)
    ax.set_xlabel(f"{section['metric']} of the feature alone (test split)")
    ax.tick_params(labelsize=7)
    return fig


def time(report: dict[str, Any]) -> Figure | None:
    periods = report["time"].get("periods")
    if not periods:
        return None
    fig = _figure(8, 3)
    ax = fig.add_subplot()
    x = range(len(periods["labels"]))
    ax.bar(x, periods["rows"], color="#9bc")
    ax.set_ylabel(f"rows per period ({periods['freq']})")
    step = max(1, len(periods["labels"]) // 12)
    ax.set_xticks(list(x)[::step], periods["labels"][::step], rotation=45, fontsize=7)
    if "target_mean" in periods:
        twin = ax.twinx()
        twin.plot(list(x), periods["target_mean"], color="#c33", marker=".")
        twin.set_ylabel("target mean", color="#c33")
    ax.set_title(
        f"{report['time']['column']}: train {report['time']['train']['min'][:10]} .. {report['time']['train']['max'][:10]}, "
        f"test {report['time']['test']['min'][:10]} .. {report['time']['test']['max'][:10]}",
        fontsize=9,
    )
    return fig


def figures(report: dict[str, Any]) -> dict[str, Figure]:
    """The report's figures by file stem, in page order."""
    drawn = {"histograms": histograms(report), "target": target(report), "leakage": leakage(report), "time": time(report)}
    return {name: fig for name, fig in drawn.items() if fig is not None}


def write_report(report: dict[str, Any], out: Path) -> None:
    """``out``/quality.json, one PNG per figure and index.html, written atomically as a whole."""
    from jinja2 import Environment

    scores = report["leakage"]["single_feature_score"]["scores"]
    with atomic_path(out) as tmp:
        tmp.mkdir()
        write_json(tmp / "quality.json", report)
        drawn = figures(report)
        for name, fig in drawn.items():
            # No "Software" metadata: the same report gives the same bytes (DVC hashes them).
            fig.savefig(tmp / f"{name}.png", format="png", dpi=100, metadata={"Software": None})
        page = Environment(autoescape=True).from_string(PAGE)
        html = page.render(report=report, scores=scores, images=list(drawn), titles=TITLES)
        (tmp / "index.html").write_text(html, encoding="utf-8")
