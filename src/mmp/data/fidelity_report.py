"""The fidelity report of a synthetic sample: ``fidelity.json`` and ``fidelity.png`` (each
column's KS statistic or total variation distance, and the real and synthetic normal-score
correlation matrices side by side)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

from mmp.data.copula import Fidelity

JSON_FILE, PNG_FILE = "fidelity.json", "fidelity.png"


def write_fidelity(report: Fidelity, folder: Path) -> None:
    """Both files into ``folder`` (an existing directory, typically a temporary one)."""
    (folder / JSON_FILE).write_text(json.dumps(report.model_dump(mode="json"), indent=1, sort_keys=True) + "\n")
    (folder / PNG_FILE).write_bytes(fidelity_png(report))


def fidelity_png(report: Fidelity) -> bytes:
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(16, 0.3 * len(report.names) + 3), gridspec_kw={"width_ratios": [1.2, 1, 1]})
    cols = sorted(report.columns, key=lambda c: c.value)
    axes[0].barh([c.column for c in cols], [c.value for c in cols], color="#1f77b4")
    for y, c in enumerate(cols):
        axes[0].annotate(f" {c.statistic} {c.value:.3f}", (c.value, y), va="center", fontsize=8)
    axes[0].set_xlabel("KS statistic (numbers) / total variation distance (categories): 0 = identical")
    axes[0].set_title(f"{report.real_rows} real vs {report.synthetic_rows} synthetic rows")
    for ax, name, matrix in ((axes[1], "real", report.real_correlation), (axes[2], "synthetic", report.synthetic_correlation)):
        image = ax.imshow(np.asarray(matrix), vmin=-1, vmax=1, cmap="RdBu_r")
        ticks = np.arange(len(report.names))
        ax.set_xticks(ticks, report.names, rotation=90, fontsize=7)
        ax.set_yticks(ticks, report.names, fontsize=7)
        ax.set_title(f"{name}: normal-score correlations")
    fig.colorbar(image, ax=axes[2], fraction=0.046)
    fig.suptitle(f"Fidelity: correlation distance {report.correlation_distance:.3f} (RMS over column pairs)")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()
