"""``mmp predict``: batch-score a file, a directory or a SQL query with a packaged model.

Input: a Parquet or CSV file, or a directory of them (--input), or a SQL query with bound
parameters (--query 'SELECT * FROM t WHERE d >= :since' --param since=2024-01-01, database URL
from --db-url or MMP_DB_URL). Output (.parquet or .csv): id columns, prediction, proba_<class>,
model_name, model_version, scored_at. With --log DIR|URL (or serving.prediction_log / MMP_PREDICTION_LOG)
every scored row also goes to the prediction log, all of it flushed before the command ends. Streams in chunks (flat memory), checks every chunk
against the model's data contract, and writes the output atomically.

--explain adds, per row, raw_score, base_value, explain_method and contrib_<column> for every raw
input column (base_value + the contributions = raw_score: the log-odds of the positive class for
a binary LightGBM or logistic model, the probability for a random forest, the prediction for a
regressor, the predicted class's margin for a multiclass model). With --top-k K it adds instead
top<i>_column and top<i>_contribution for each row's K largest contributions (by absolute value).

--engine dask scores a Parquet --input (a file or a directory) on a Dask cluster, one task per
Parquet row group, into --output as a directory of part files (part-00000.parquet, ...: the
same columns and rows, in input order, as --engine local writes). The cluster is the scheduler
that DASK_SCHEDULER_ADDRESS names (its workers must be able to read --model and --input), else a
LocalCluster of --workers processes. The parts are written beside --output and moved into place
when all are done, so a crash leaves no partial dataset; a task whose worker dies is rerun on
another worker.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mmp.core.errors import MMPError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "predict",
        help="batch-score files or a SQL query with a model",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--model", help="models/package dir, models:/name@alias, runs:/<id>/model or a run id (default: the env vars, as mmp serve)"
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--input", type=Path, help="Parquet/CSV file or directory")
    src.add_argument("--query", help="SQL query; values as :name placeholders bound from --param")
    p.add_argument(
        "--param", action="append", default=[], metavar="NAME=VALUE", help="a bound query parameter (JSON value, else text); repeatable"
    )
    p.add_argument("--db-url", default=None, help="SQLAlchemy URL for --query (default: $MMP_DB_URL)")
    p.add_argument("--output", type=Path, required=True, help="output file (.parquet or .csv)")
    p.add_argument("--chunksize", type=int, default=100_000, help="rows per chunk (default: 100000)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument(
        "--log",
        metavar="DIR|URL",
        help="also log every scored row: a Parquet directory or a SQLAlchemy URL (default: $MMP_PREDICTION_LOG, else off)",
    )
    p.add_argument("--explain", action="store_true", help="add each row's contributions by raw input column (see above)")
    p.add_argument("--top-k", type=int, default=None, metavar="K", help="with --explain: only the K largest contributions per row")
    p.add_argument(
        "--engine",
        choices=("local", "dask"),
        default="local",
        help="local: stream chunks in this process (default); dask: score a Parquet --input row group by row group on a Dask "
        "cluster into a partitioned Parquet --output directory (see below)",
    )
    p.add_argument("--workers", type=int, default=2, help="--engine dask: LocalCluster worker processes (default: 2)")
    p.set_defaults(func=run)


def parse_params(pairs: list[str]) -> dict[str, Any]:
    params = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.isidentifier():
            raise MMPError("--param", f"{pair!r} is not NAME=VALUE", "e.g. since=2024-01-01 or limit=100")
        try:
            params[name] = json.loads(value)
        except json.JSONDecodeError:
            params[name] = value
    return params


@contextmanager
def prediction_log(target: str | None, scorer: Any) -> Iterator[Any]:
    """The log ``--log`` names (else the environment's ``MMP_PREDICTION_LOG``; off when neither),
    closed (every row written) however the run ends."""
    from mmp.core.settings import PredictionLogSettings
    from mmp.inference.predlog import open_log

    target = target or os.environ.get("MMP_PREDICTION_LOG")
    log = open_log(PredictionLogSettings().pointed_at(target), scorer.schema) if target else None
    try:
        yield log
    finally:
        if log is not None:
            log.close()
            print(f"logged {log.written} rows to {log.settings.label}", file=sys.stderr)


def explain_columns(explain: bool, top_k: int | None) -> Any:
    """The ``--explain``/``--top-k`` choice as batch scoring takes it (None: no explanations)."""
    from mmp.inference.batch import ExplainColumns
    from mmp.inference.explain import MAX_TOP_K

    if top_k is not None and not explain:
        raise MMPError("--top-k", "needs --explain", "--explain --top-k K")
    if top_k is not None and not 1 <= top_k <= MAX_TOP_K:
        raise MMPError("--top-k", f"got {top_k}", f"an integer from 1 to {MAX_TOP_K}")
    return ExplainColumns(top_k) if explain else None


def run(args: argparse.Namespace) -> int:
    from mmp.inference.batch import Identity, file_chunks, now, score_to_file, sql_chunks
    from mmp.inference.wrapper import load_wrapper
    from mmp.serving.loader import resolved

    if args.chunksize < 1:
        raise MMPError("--chunksize", f"got {args.chunksize}", "an integer >= 1")
    if args.engine == "dask":
        return run_dask(args)
    explain = explain_columns(args.explain, args.top_k)
    # SIGTERM unwinds like an error, so the temporary output is removed (SIGKILL cannot be
    # caught, but the final path is only ever written by a rename: it never holds a partial file)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with resolved(args.model) as ref:  # a downloaded model's temp dir goes once it is loaded
        scorer = load_wrapper(ref.path, source=ref.source)
    total = None
    if args.query:
        url = args.db_url or os.environ.get("MMP_DB_URL")
        if not url:
            raise MMPError("--db-url", "a database URL is needed with --query", "--db-url or MMP_DB_URL")
        chunks = sql_chunks(url, args.query, parse_params(args.param), args.chunksize)
    else:
        chunks, total = file_chunks(args.input, args.chunksize)
    with prediction_log(args.log, scorer) as log:
        identity = Identity(ref.name, ref.version, now())
        rows = score_to_file(scorer, chunks, args.output, identity, total, not args.no_progress, predlog=log, explain=explain)
    print(f"scored {rows} rows with {ref.name} version {ref.version} into {args.output}")
    return 0


def run_dask(args: argparse.Namespace) -> int:
    """``--engine dask``: the cluster of DASK_SCHEDULER_ADDRESS, else a LocalCluster of --workers."""
    from mmp.core.cluster import dask_client, on_cluster
    from mmp.core.config import ComputeConfig
    from mmp.core.settings import load_settings
    from mmp.inference.batch import Identity, now
    from mmp.inference.dask_batch import score_on_cluster
    from mmp.serving.loader import resolved

    local_only = [flag for flag, on in (("--query", args.query), ("--log", args.log), ("--explain", args.explain)) if on]
    if local_only:
        raise MMPError(local_only[0], "runs with --engine local only", "--engine dask scores a Parquet --input into a Parquet directory")
    if args.workers < 1:
        raise MMPError("--workers", f"got {args.workers}", "an integer >= 1")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwinds: the temporary output directory is removed
    compute = ComputeConfig(engine="dask", n_workers=args.workers)
    with resolved(args.model) as ref, dask_client(compute, load_settings().dask) as client:
        identity = Identity(ref.name, ref.version, now())
        rows = on_cluster(lambda: score_on_cluster(client, ref.path, args.input, args.output, identity), "mmp predict")
    print(f"scored {rows} rows with {ref.name} version {ref.version} into {args.output} (Dask, partitioned Parquet)")
    return 0
