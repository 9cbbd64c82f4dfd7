"""``mmp rollback``: move the `champion` alias of a registered model back to the version
deployed before the current one, and record a `rollback` event (`mmp events --kind rollback`).

The previous version comes from the events store's deployment history (each `deployment`
event pushes a version, each `rollback` pops one): the version deployed before the champion,
or the last one recorded when the alias was moved outside the history (`mmp promote`); without
a history, the highest registered version below the current champion. `--to VERSION` names the version instead.
MLFLOW_MODEL_STAGE, when set, names the alias to move instead of `champion`. The registry is
`mlflow.tracking_uri` and the store `events.url` in conf/env/<APP_ENV>.yaml.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "rollback",
        help="move the champion alias back to the previously deployed version (recorded as an event)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", required=True, help="the registered model's name, e.g. credit-default")
    p.add_argument("--to", metavar="VERSION", help="the version to move the alias to (default: the previously deployed one)")
    p.add_argument("--reason", default="manual rollback", help="why, recorded in the event (default: manual rollback)")
    p.add_argument("--repo", default=".", help="repository root, for runtime settings (default: .)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mmp.ops.deploy import registry_client, rollback
    from mmp.ops.events import open_store

    repo = Path(args.repo).resolve()
    with open_store(repo) as store:
        print(rollback(args.model, store, to=args.to, reason=args.reason, client=registry_client(repo)).line())
    return 0
