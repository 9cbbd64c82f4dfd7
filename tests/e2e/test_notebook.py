"""The EDA notebook executes top to bottom against a real pipeline run."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.slow


def test_eda_notebook_executes(default_run: Path) -> None:
    notebook = nbformat.read(default_run / "notebooks" / "eda.ipynb", as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(default_run)}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "train rows: 16,000" in text
    assert any("image/png" in o.get("data", {}) for o in outputs), "the notebook draws its plots"
