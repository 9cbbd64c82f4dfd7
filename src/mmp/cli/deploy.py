"""``mmp deploy``: move the `champion` alias of a registered model to a version, and record a
`deployment` event (from-version, to-version, reason). No gate: `mmp promote` gates the
candidate before it moves the alias, and `mmp daily` deploys only a version that passed the
gate and beat the champion; this command is the operator's manual deploy (e.g. to redeploy
after a `mmp rollback`). Deploying the version already deployed changes nothing.
MLFLOW_MODEL_STAGE, when set, names the alias to move instead of `champion`.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "deploy",
        help="move the champion alias to a model version (recorded as an event)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", required=True, help="the registered model's name, e.g. credit-default")
    p.add_argument("--version", required=True, help="the registered version to deploy")
    p.add_argument("--reason", default="manual deploy", help="why, recorded in the event (default: manual deploy)")
    p.add_argument("--repo", default=".", help="repository root, for runtime settings (default: .)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mmp.ops.deploy import deploy, registry_client
    from mmp.ops.events import open_store

    repo = Path(args.repo).resolve()
    with open_store(repo) as store:
        print(deploy(args.model, args.version, args.reason, store, client=registry_client(repo)).line())
    return 0
