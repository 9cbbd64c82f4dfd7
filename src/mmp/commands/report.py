"""``mmp report``: a Markdown report of the target revision (default: the workspace) against a
base revision, for pull-request comments (``cml comment create report/report.md``).

It holds the metrics diff with changes, the params diff, the quality-gate verdict and PNG plots
(every plot dvc.yaml declares: ROC, precision-recall, confusion matrix, feature importance and
the training curves, base and target overlaid). Revisions are any Git revision or `dvc exp`
name. Everything renders offline. Example:

    mmp report --base origin/main            # writes report/report.md and report/plots/*.png
    mmp report --base HEAD~1 --target HEAD --out /tmp/review
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mmp.io import atomic_path

REPORT_FILE = "report.md"
PLOTS_DIR = "plots"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="write a Markdown + PNG report of a revision against a base", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--base", default="HEAD", help="the revision or experiment to compare against (default: HEAD)")
    p.add_argument("--target", default="workspace", help="the revision or experiment to report on (default: workspace)")
    p.add_argument("--out", default="report", help="output folder, replaced as a whole (default: report/)")
    p.add_argument("--repo", default=".", help="repository root (default: .)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mmp.metrics import HIGHER_IS_BETTER
    from mmp.reporting import dvc_data, plots, sections

    repo, revs = Path(args.repo), dvc_data.Revisions(args.base, args.target)
    metrics = dvc_data.metrics_diff(repo, revs)
    params = dvc_data.params_diff(repo, revs)
    specs, _errors = dvc_data.plots_diff(repo, revs)
    gate = sections.gate_section(dvc_data.params_at(repo, revs.target), sections.target_metrics(metrics))
    with atomic_path(Path(args.out)) as tmp:
        (tmp / PLOTS_DIR).mkdir(parents=True)
        images, missing = [], []
        for plot_id, rendered in specs.items():
            vega = [r["content"] for r in rendered if r.get("type") == "vega"]
            if not vega:  # DVC found this plot's file in neither revision
                missing.append(plot_id)
                continue
            heading, name = plots.title(plot_id), f"{PLOTS_DIR}/{plots.slug(plot_id)}.png"
            (tmp / name).write_bytes(plots.render_png(plots.static_spec(vega[0], heading)))
            images.append((heading, name))
        body = [sections.metrics_section(metrics, revs, HIGHER_IS_BETTER), sections.params_section(params, revs), gate, sections.plots_section(images, missing)]
        (tmp / REPORT_FILE).write_text(sections.report(revs, body))
    print(f"wrote {Path(args.out) / REPORT_FILE} and {len(images)} plots ({revs.target} against {revs.base})")
    return 0
