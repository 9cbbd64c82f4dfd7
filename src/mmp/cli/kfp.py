"""``mmp kfp compile``: the Kubeflow Pipelines (v2) pipeline of dvc.yaml.

One container component per DVC stage, with the edges of DVC's own stage graph: each runs in
the serving image, pulls the outputs of its upstream stages (``dvc pull``), reproduces its one
stage (``dvc repro --single-item``) and pushes what it made (``dvc push``). A final ``register``
step (``mmp promote``) runs only when the evaluate stage's metrics pass the rules of the
recipe's gate (``evaluate.gate`` in params.yaml): one KFP condition per rule.

The kfp SDK is the optional extra ``kfp``. Its pins conflict with requirements.lock
(protobuf), so it lives in a virtualenv of its own (deploy/kfp/requirements.txt;
``mmp kfp venv`` builds it under .cache/): the plan is made here and compiled by that Python.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from mmp.cli import plain_text
from mmp.ops.kfp_plan import DEFAULT_IMAGE, REQUIREMENTS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("kfp", help="Kubeflow Pipelines: compile dvc.yaml into a KFP v2 pipeline", description=__doc__)
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    c = actions.add_parser(
        "compile", help="write the pipeline YAML", description=plain_text(__doc__), formatter_class=argparse.RawDescriptionHelpFormatter
    )
    c.add_argument("--output", default="pipeline.yaml", help="the pipeline YAML to write (default: pipeline.yaml)")
    c.add_argument(
        "--image", default=DEFAULT_IMAGE, help=f"the container image every step runs in (default: {DEFAULT_IMAGE}, the serving image)"
    )
    c.add_argument("--params", default="params.yaml", help="the recipe whose evaluate.gate gates register (default: params.yaml)")
    c.add_argument(
        "--python",
        default=os.environ.get("MMP_KFP_PYTHON"),
        help="a Python with the kfp SDK (default: MMP_KFP_PYTHON, this one if it has kfp, else the .cache/ virtualenv)",
    )
    c.add_argument("--repo", default=".", help="repository root (default: .)")
    c.set_defaults(func=run)
    v = actions.add_parser("venv", help=f"build the kfp extra's virtualenv under .cache/ (from {REQUIREMENTS.as_posix()})")
    v.add_argument("--repo", default=".", help="repository root (default: .)")
    v.set_defaults(func=venv)


def run(args: argparse.Namespace) -> int:
    from mmp.ops.kfp_plan import build_plan, compile_pipeline, kfp_python

    root = Path(args.repo)
    python = kfp_python(root, args.python)
    plan = build_plan(root, args.image, args.params)
    compile_pipeline(plan, Path(args.output).resolve(), python)
    print(
        f"wrote {args.output}: {len(plan.steps)} stage steps and register (when {' and '.join(f'{r.metric} {r.op} {r.value:g}' for r in plan.gate)})"
    )
    return 0


def venv(args: argparse.Namespace) -> int:
    from mmp.ops.kfp_plan import ensure_kfp_venv

    print(ensure_kfp_venv(Path(args.repo)))
    return 0
