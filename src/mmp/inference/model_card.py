"""The model card (MODEL_CARD.md) shipped inside the model package: a pure renderer.

Everything in it comes from the recipe and the pipeline's own outputs, so it is byte-identical
run to run: no dates, no hostnames, no registry state (the champion comparison happens later,
in ``mmp promote``, and is recorded on the model version)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from mmp.core.config import Params
from mmp.data.schema import InputSchema
from mmp.modeling.gate import GateResult


@dataclass(frozen=True)
class DataFile:
    """One DVC-tracked data file as the card and MLflow describe it: path, rows, md5."""

    name: str  # "train" / "test"
    path: str
    rows: int
    md5: str


def render_card(params: Params, metrics: dict[str, float], gate: GateResult, data: list[DataFile], schema: InputSchema) -> str:
    reg = params.registry
    features = schema.features
    lines = [
        f"# Model card: {params.model_name}",
        "",
        "## Intended use",
        "",
        reg.intended_use.strip() or _unstated_use(params, len(features)),
        "",
        "## Model",
        "",
        f"- Estimator: `{params.model.class_path}`",
        *([f"- Family: chosen by AutoML among {', '.join(params.tune.families)} (tune.families)"] if automl(params) else []),
        f"- Task: {params.data.task_type}; target: `{', '.join(params.data.targets)}`",
        *([f"- Decision threshold: {threshold_line(params, metrics)}"] if params.data.task_type == "binary" else []),
        *([f"- Output: the estimated effect of `{params.data.treatment_col}` (1 vs 0) per row"] if params.data.treatment_col else []),
        f"- Seed: {params.seed}",
        "",
        "## Training data",
        "",
        f"Source: `{params.data.source_uri}` (DVC-tracked; content hashes are DVC's md5).",
        "",
        "| split | path | rows | md5 |",
        "|---|---|---|---|",
        *(f"| {d.name} | `{d.path}` | {d.rows} | `{d.md5}` |" for d in data),
        "",
        "## Metrics (test split)",
        "",
        "| metric | value |",
        "|---|---|",
        # scalar metrics only: multiclass adds a nested per-class report, multi-output per-target
        *(f"| {k} | {v:.6g} |" for k, v in sorted(metrics.items()) if isinstance(v, int | float) and not isinstance(v, bool)),
        "",
        "## Quality gate",
        "",
        "```",
        gate.summary(),
        "```",
        "",
        "The comparison with the current champion is made by `mmp promote` and recorded as tags on the model version.",
        "",
        "## Parameters",
        "",
        "```yaml",
        yaml.safe_dump({"model": params.model.model_dump()}, sort_keys=False).rstrip(),
        "```",
        "",
        f"## Features ({len(features)} input columns)",
        "",
        "| column | type | nullable |",
        "|---|---|---|",
        *(f"| {c.name} | {c.dtype} | {'yes' if c.nullable else 'no'} |" for c in features),
        "",
        "## Known limitations",
        "",
        *([f"- {item}" for item in reg.limitations] or ["(none stated: set registry.limitations in conf/registry/data/<data>.yaml)"]),
        "",
    ]
    return "\n".join(lines)


def _unstated_use(params: Params, n_features: int) -> str:
    """What the card can say from the recipe alone when no prose was written for this data
    (the prose of another dataset would be wrong: it is picked per data config)."""
    targets = ", ".join(f"`{t}`" for t in params.data.targets)
    return (
        f"Predicts {targets} ({params.data.task_type}) from {n_features} input columns of `{params.data.source_uri}`. "
        "Intended use not stated: set registry.intended_use in conf/registry/data/<data>.yaml."
    )


def automl(params: Params) -> bool:
    """Whether tuning chose the model family (the package's recipe is the winner's)."""
    return params.tune.enabled and bool(params.tune.families)


def threshold_line(params: Params, metrics: dict[str, Any]) -> str:
    """The binary decision threshold the package applies, and where it came from."""
    cut = params.evaluate.applied_threshold(metrics)
    if params.evaluate.threshold == "f1":
        return f"{cut:g}, chosen to maximise F1 on validation rows held out of the train split (evaluate.threshold: f1)"
    return f"{cut:g} (evaluate.threshold)"
