"""DVC's filled Vega-Lite specs, made static and rendered to PNG offline by vl-convert.

DVC's own HTML report loads Vega from a CDN; vl-convert embeds the Vega runtime, so a report
renders on a machine (or CI runner) with no internet."""

from __future__ import annotations

import copy
import re
from pathlib import PurePosixPath
from typing import Any

# Scale 2 keeps the 300-pixel DVC plots readable in a pull-request comment.
PNG_SCALE = 2.0


def slug(plot_id: str) -> str:
    """A file name for a plot id: ``metrics/train/plots/metrics/binary_logloss.tsv`` ->
    ``metrics-train-plots-metrics-binary_logloss``."""
    stem = plot_id.removesuffix(PurePosixPath(plot_id).suffix) if "/" in plot_id else plot_id
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", stem).strip("-").lower() or "plot"


def title(plot_id: str, spec: dict[str, Any] | None = None) -> str:
    """The title the plot declares (DVC fills the id in when there is none); else, for a plot
    declared by file path, the file's name."""
    declared = (spec or {}).get("title")
    text = declared.get("text") if isinstance(declared, dict) else declared
    if isinstance(text, str) and text and text != plot_id:
        return text
    return f"Training curve: {PurePosixPath(plot_id).stem}" if "/" in plot_id else plot_id


def static_spec(spec: dict[str, Any], heading: str) -> dict[str, Any]:
    """A copy of ``spec`` for a still image: the title set, and checkbox toggles (the confusion
    matrix's "show values") switched on, since nobody can click them in a PNG."""
    out = copy.deepcopy(spec)
    out["title"] = {**out["title"], "text": heading} if isinstance(out.get("title"), dict) else heading
    for param in out.get("params", []):
        bind = param.get("bind") if isinstance(param, dict) else None
        if isinstance(bind, dict) and bind.get("input") == "checkbox" and "value" not in param:
            param["value"] = True
    return out


def render_png(spec: dict[str, Any]) -> bytes:
    import vl_convert

    return vl_convert.vegalite_to_png(spec, scale=PNG_SCALE)
