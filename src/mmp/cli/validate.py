"""``mmp validate``: check a recipe and its data source without training.

With no overrides it checks params.yaml; with Hydra overrides (``mmp validate model=mlp
data=iris``) it composes conf/ the way ``dvc exp run -S`` would, without writing params.yaml.
It reports every problem at once, each with its key and the fix, and exits 2 when there is any.
``--no-data`` skips loading the source (config checks only).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

from mmp.core.errors import raise_all


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "validate",
        help="check the recipe and the data source without training",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("overrides", nargs="*", help="Hydra overrides; when given, conf/ is composed instead of reading params.yaml")
    p.add_argument("--params", default="params.yaml", help="the composed recipe to check (default: params.yaml)")
    p.add_argument("--no-data", action="store_true", help="check the configuration only; do not load the data source")
    p.add_argument("--repo", default=".", help="repository root (default: .)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mmp.core.config import read_params
    from mmp.core.errors import collect
    from mmp.pipeline.checks import config_problems, data_problems, parsed_sections

    if args.overrides:
        from mmp.ops.params import compose

        raw = yaml.safe_load(compose(Path(args.repo), args.overrides)) or {}
    else:
        raw = read_params(Path(args.repo) / args.params)
    errors = config_problems(raw)
    sections = parsed_sections(raw)
    if sections["data"] is not None and not args.no_data:
        # The source is checked even when the recipe has other problems: report them all at once.
        from mmp.data.sources import load_rows

        seed = raw.get("seed") if isinstance(raw.get("seed"), int) else 42
        frame, load_errors = collect(load_rows, sections["data"], seed)
        errors += load_errors if frame is None else data_problems(frame, sections["data"], sections["features"])
    if errors:
        raise_all(errors)
    summary = "recipe" if args.no_data else "recipe and data source"
    print(f"ok: the {summary} passed validation")
    return 0
