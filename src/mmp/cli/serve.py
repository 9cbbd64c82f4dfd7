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

A/B test: --challenger REF (any source --model takes, or MMP_CHALLENGER) answers a --split share
of the records (MMP_AB_SPLIT, default 0.1), sticky by entity key, else a --seed'ed draw
(MMP_AB_SEED); --shadow (MMP_AB_SHADOW=1) scores it on every request without returning its
answers. GET /metrics: Prometheus metrics (summed across --workers).

Hot swap: a server of models:/<name>@<alias> asks the registry every --poll-seconds
(MMP_POLL_SECONDS, default 30, 0 = off) which version the alias names; when it moves, the new
version is loaded beside the served one, checked (same inputs, a smoke prediction) and swapped in
without a restart or a failed request (each worker polls). Responses and /metadata name the
version serving (model_version); a version that fails to load is logged and the old one stays.
"""

from __future__ import annotations

import argparse
import contextlib
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
    p.add_argument("--challenger", help="A/B: a second model (any source --model takes) with the same inputs (env: MMP_CHALLENGER)")
    p.add_argument("--split", type=float, help="A/B: the share of records the challenger answers, 0 < split < 1 (default: 0.1)")
    p.add_argument("--shadow", action="store_true", help="A/B: score the challenger on every request without returning its answers")
    p.add_argument("--seed", type=int, help="A/B: seed of the sticky hash and of the draw for records without an entity key (default: 0)")
    p.add_argument(
        "--poll-seconds", type=float, help="hot swap: how often to re-read a models:/name@alias (env: MMP_POLL_SECONDS; default 30; 0: off)"
    )
    p.add_argument("--host", default="127.0.0.1", help="bind address (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="port (default: 8080)")
    p.add_argument("--workers", type=int, default=1, help="worker processes, each serving the model (default: 1)")
    p.add_argument("--no-access-log", action="store_true", help="do not log every request")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mmp.core.errors import MMPError
    from mmp.serving import ab
    from mmp.serving.loader import RESOLVED_ENV, resolved
    from mmp.serving.metrics import multiprocess_dir

    if args.workers < 1:
        raise MMPError("--workers", f"got {args.workers}", "an integer >= 1")
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s:     %(name)s: %(message)s")
    env = {**os.environ, **ab_env(args), **poll_env(args)}
    # The workers' metrics meet in one directory; set before prometheus-client is first imported.
    shared_metrics = multiprocess_dir(env) if args.workers > 1 else contextlib.nullcontext()
    with resolved(args.model) as ref, ab.resolved_challenger(args.challenger, env) as challenger, shared_metrics:
        env[RESOLVED_ENV] = ref.to_env()  # the workers load what this process fetched
        if challenger is not None:
            env[ab.RESOLVED_CHALLENGER_ENV] = challenger.to_env()
        os.environ.update(env)
        serve(args, env)
    return 0


def poll_env(args: argparse.Namespace) -> dict[str, str]:
    """--poll-seconds as the env var the app (and every worker) reads."""
    from mmp.core.errors import MMPError
    from mmp.serving.swap import POLL_ENV, poll_seconds

    if args.poll_seconds is None:
        poll_seconds(os.environ)  # a bad MMP_POLL_SECONDS stops here, before the model is fetched
        return {}
    if not 0 <= args.poll_seconds < float("inf"):
        raise MMPError("--poll-seconds", f"got {args.poll_seconds}", "a number of seconds >= 0 (0: do not follow the alias)")
    return {POLL_ENV: repr(args.poll_seconds)}


def ab_env(args: argparse.Namespace) -> dict[str, str]:
    """The A/B flags as the env vars the app (and every worker) reads."""
    from mmp.core.errors import MMPError
    from mmp.serving import ab

    if not (args.challenger or os.environ.get(ab.CHALLENGER_ENV)):
        given = [flag for flag, value in (("--split", args.split), ("--shadow", args.shadow), ("--seed", args.seed)) if value]
        if given:
            raise MMPError(given[0], "given without a challenger", "--challenger REF (or MMP_CHALLENGER)")
        return {}
    env = {}
    if args.split is not None:
        env[ab.SPLIT_ENV] = repr(ab.ABConfig(split=args.split).split)  # checks 0 < split < 1
    if args.seed is not None:
        env[ab.SEED_ENV] = str(args.seed)
    if args.shadow:
        env[ab.SHADOW_ENV] = "1"
    return env


def serve(args: argparse.Namespace, env: dict[str, str]) -> None:
    import uvicorn

    from mmp.serving.app import create_app

    app = create_app(settings=None, env=env)  # fails here, before serving
    options = {"host": args.host, "port": args.port, "access_log": not args.no_access_log, "log_level": args.log_level}
    options["log_config"] = log_config(args.log_level)
    if args.workers == 1:
        uvicorn.run(app, **options)
    else:
        app.state.service.close()  # this process only fetched and checked the model: the workers log
        del app
        uvicorn.run(APP_FACTORY, factory=True, workers=args.workers, **options)


def log_config(level: str) -> dict:
    """uvicorn's logging set-up, which every worker applies, plus mmp's own loggers (a worker's
    hot swap, its prediction log) on uvicorn's handler at ``level``."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["mmp"] = {"handlers": ["default"], "level": level.upper(), "propagate": False}
    return config
