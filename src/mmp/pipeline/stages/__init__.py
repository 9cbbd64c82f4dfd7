"""DVC stage entry points: ``python -m mmp.pipeline.stages.<name>``. Each reads its params and
inputs, calls its step in :mod:`mmp.pipeline.steps` and writes the result atomically. Paths
come as arguments from dvc.yaml, where each is declared once."""

from __future__ import annotations

import argparse
from typing import Any


def parser(doc: str | None, **paths: str) -> argparse.ArgumentParser:
    """An argument parser whose options are the stage's input/output paths."""
    p = argparse.ArgumentParser(description=(doc or "").strip().splitlines()[0] if doc else None)
    for name, help_text in paths.items():
        p.add_argument(f"--{name.replace('_', '-')}", required=True, help=help_text)
    p.add_argument("--params", default="params.yaml", help="the composed recipe (default: params.yaml)")
    return p


def live(directory: str):  # noqa: ANN201 - dvclive is imported lazily
    """A dvclive logger that writes plot data only: dvc.yaml declares the plots itself."""
    from dvclive import Live

    return Live(dir=directory, dvcyaml=None, save_dvc_exp=False, report=None)


def checked_params(path: str, *sections: str) -> Any:
    """params.yaml parsed and validated the way ``mmp validate`` does it, limited to the
    sections this stage depends on (so prepare never imports a model library or the tuning code)."""
    from mmp.core.config import read_params
    from mmp.pipeline.checks import validate

    return validate(read_params(path), None, sections)
