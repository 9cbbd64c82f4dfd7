"""The pull-request report: metrics and params diffs, the gate verdict and PNG plots of a target
revision against a base, in one Markdown file (see ``mmp report --help``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mmp.core.io import atomic_path
from mmp.modeling.tasks import HIGHER_IS_BETTER
from mmp.ops.reporting import dvc_data, plots, sections

REPORT_FILE = "report.md"
PLOTS_DIR = "plots"


def write_report(repo: Path, base: str, target: str, out: Path) -> tuple[Path, int]:
    """Write ``out/report.md`` and its PNG plots; returns the report's path and the plot count."""
    revs = dvc_data.Revisions(base, target)
    metrics = {**dvc_data.metrics_diff(repo, revs), **dvc_data.profile_diff(repo, revs)}
    params = dvc_data.params_diff(repo, revs)
    specs, _errors = dvc_data.plots_diff(repo, revs)
    gate = sections.gate_section(dvc_data.params_at(repo, revs.target), sections.target_metrics(metrics))
    with atomic_path(out) as tmp:
        (tmp / PLOTS_DIR).mkdir(parents=True)
        images, missing = [], []
        for plot_id, rendered in specs.items():
            vega = [r["content"] for r in rendered if r.get("type") == "vega"]
            image = _image_file(rendered)
            if not vega and image is not None:  # a PNG the stage drew itself (the Qini curve)
                name = f"{PLOTS_DIR}/{plots.slug(plot_id)}.png"
                (tmp / name).write_bytes(image.read_bytes())
                images.append((Path(plot_id).stem.replace("_", " ").capitalize(), name))
                continue
            if not vega:  # DVC found this plot's file in neither revision
                missing.append(plot_id)
                continue
            heading, name = plots.title(plot_id, vega[0]), f"{PLOTS_DIR}/{plots.slug(plot_id)}.png"
            (tmp / name).write_bytes(plots.render_png(plots.static_spec(vega[0], heading)))
            images.append((heading, name))
        automl = sections.automl_section(metrics)
        body = [
            sections.metrics_section(metrics, revs, HIGHER_IS_BETTER),
            *([automl] if automl else []),
            sections.params_section(params, revs),
            gate,
            sections.plots_section(images, missing),
        ]
        (tmp / REPORT_FILE).write_text(sections.report(revs, body))
    return out / REPORT_FILE, len(images)


def _image_file(rendered: list[dict[str, Any]]) -> Path | None:
    """The target revision's copy of an image plot, as `dvc plots diff --json` wrote it (the
    last revision listed), when one exists on disk."""
    urls = [Path(r["url"]) for r in rendered if r.get("type") == "image" and r.get("url")]
    return next((url for url in reversed(urls) if url.is_file()), None)
