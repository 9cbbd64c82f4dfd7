"""``mmp promote``: apply the quality gate to the `candidate` model version and, only when it
passes, move the `champion` alias to it.

Both the candidate and the current champion are scored on the candidate's own test data (the
DVC-tracked test split, checked against the candidate's recorded md5), so the comparison is
fair even when the champion was trained on other data. The gate comes from the recipe
(``evaluate.gate`` in params.yaml). The decision and its figures are recorded as tags on the
candidate version. MLFLOW_MODEL_STAGE, when set, names the alias to move instead of
`champion` (the registry "stage" of the original documents, used as an alias name).
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "promote",
        help="gate the candidate model version and move the champion alias",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--params",
        default="params.yaml",
        help="the recipe holding evaluate.gate and the data whose registered model is gated (default: params.yaml)",
    )
    p.add_argument("--test", default="data/prepared/test.parquet", help="the candidate's test split (default: data/prepared/test.parquet)")
    p.add_argument("--version", help="the model version to gate (default: the one aliased `candidate`)")
    p.add_argument("--repo", default=".", help="repository root, for runtime settings (default: .)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mmp.ops.promote import promote

    return promote(Path(args.params), Path(args.test), args.version, Path(args.repo))
