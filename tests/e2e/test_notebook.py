"""The EDA notebook executes top to bottom on the repository's recipe: it runs the prepare step
in memory, so it needs no pipeline run first."""

from __future__ import annotations

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import ROOT

pytestmark = pytest.mark.slow


def test_eda_notebook_executes() -> None:
    notebook = nbformat.read(ROOT / "notebooks" / "eda.ipynb", as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "train rows: 16,000" in text
    assert any("image/png" in o.get("data", {}) for o in outputs), "the notebook draws its plots"
