"""``mmp serve``: serve a model over HTTP (FastAPI on uvicorn).

The model is fetched and loaded once before the server starts; a model that cannot load stops
the command with a clear message and a non-zero exit. With ``--workers N`` every worker process
loads the already-fetched model (a registry model is downloaded once).

Model source (first that is set): --model, MMP_MODEL, MLFLOW_MODEL_NAME + MLFLOW_MODEL_ALIAS
(or MLFLOW_MODEL_STAGE, read as an alias: Production -> champion, Staging -> challenger).
Bearer auth is on when MMP_API_TOKEN is set. Limits, the online store and the prediction log
(every scored row to Parquet files or a SQL table; MMP_PREDICTION_LOG=DIR|URL): `serving` in
conf/env/<APP_ENV>.yaml. Every response carries X-Request-ID (the client's, else a new one): the
key `mmp label` joins later labels by.
"""

from __future__ import annotations

import argparse
import logging
import os

APP_FACTORY = "mmp.serving.app:create_app"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve",
        help="serve a model over HTTP (FastAPI + uvicorn)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--model", help="models/package dir, models:/name@alias, models:/name/N, runs:/<id>/model or a run id (default: the env vars)"
    )
    p.add_argument("--host", default="127.0.0.1", help="bind address (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="port (default: 8080)")
    p.add_argument("--workers", type=int, default=1, help="worker processes, each serving the model (default: 1)")
    p.add_argument("--no-access-log", action="store_true", help="do not log every request")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from mmp.core.errors import MMPError
    from mmp.serving.app import create_app
    from mmp.serving.loader import RESOLVED_ENV, resolved

    if args.workers < 1:
        raise MMPError("--workers", f"got {args.workers}", "an integer >= 1")
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s:     %(name)s: %(message)s")
    with resolved(args.model) as ref:  # a downloaded model stays until the server stops
        app = create_app(settings=None, env={**os.environ, RESOLVED_ENV: ref.to_env()})  # fails here, before serving
        options = {"host": args.host, "port": args.port, "access_log": not args.no_access_log, "log_level": args.log_level}
        if args.workers == 1:
            uvicorn.run(app, **options)
        else:
            app.state.service.close()  # this process only fetched and checked the model: the workers log
            del app
            os.environ[RESOLVED_ENV] = ref.to_env()  # the workers load what this process fetched
            uvicorn.run(APP_FACTORY, factory=True, workers=args.workers, **options)
    return 0
