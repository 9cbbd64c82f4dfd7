"""The pull-request report: metrics and params diffs, the gate verdict and PNG plots of a target
revision against a base, in one Markdown file (see ``mmp report --help``)."""

from __future__ import annotations

import shutil
import tempfile
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
    gate = sections.gate_section(dvc_data.params_at(repo, revs.target), sections.target_metrics(metrics))
    with atomic_path(out) as tmp, tempfile.TemporaryDirectory() as dvc_images:
        specs, _errors = dvc_data.plots_diff(repo, revs, Path(dvc_images))
        (tmp / PLOTS_DIR).mkdir(parents=True)
        images, missing = [], []
        for plot_id, rendered in specs.items():
            vega = [r["content"] for r in rendered if r.get("type") == "vega"]
            pngs = [Path(r["url"]) for r in rendered if r.get("type") == "image" and Path(str(r.get("url"))).is_file()]
            name = f"{PLOTS_DIR}/{plots.slug(plot_id)}.png"
            if vega:
                heading = plots.title(plot_id, vega[0])
                (tmp / name).write_bytes(plots.render_png(plots.static_spec(vega[0], heading)))
            elif pngs:  # an image plot (the evaluate stage's SHAP beeswarm): the target revision's, as it is
                heading = image_title(repo, plot_id)
                shutil.copyfile(pngs[-1], tmp / name)
            else:  # DVC found this plot's file in neither revision
                missing.append(plot_id)
                continue
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


def image_title(repo: Path, plot_id: str) -> str:
    """The title a stage declared for an image plot (metrics/plots/*/dvc.yaml), else its file name."""
    import yaml

    for config in sorted(repo.glob("metrics/plots/*/dvc.yaml")):
        declared: dict[str, Any] = {}
        for entry in (yaml.safe_load(config.read_text()) or {}).get("plots") or []:
            declared.update(entry if isinstance(entry, dict) else {})
        for path, props in declared.items():
            if (config.parent / path).resolve() == (repo / plot_id).resolve() and isinstance(props, dict) and props.get("title"):
                return str(props["title"])
    return Path(plot_id).stem
