"""``mmp drift``: compare current data (a prediction log, a file or a SQL query) with a reference
(a model's packaged training sample, or a data file) column by column, and the predictions.

--reference: models/package, models:/name@alias, models:/name/N, runs:/<id>/model (the
package's reference.parquet: a seeded sample of the training inputs and their predictions), or
a Parquet/CSV file or directory. --current: a prediction log directory (inputs are the columns
without the mmp_ prefix; the prediction is mmp_score, else mmp_prediction), a Parquet/CSV file
or directory, or --query SQL with --param and --db-url. Thresholds: conf/monitor/<--monitor>.yaml
(default: default), single keys with --set thresholds.psi=0.3.

Writes under --output DIR: drift.json, summary.png, one PNG per drifted column and index.html.
Exit status: 0 no drift, 3 drift (one line on stderr names the drifted columns), 2 bad input.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from mmp.core.errors import MMPError

if TYPE_CHECKING:
    import pandas as pd

    from mmp.inference.wrapper import ModelWrapper

DRIFT_EXIT = 3
MODEL_PREFIXES = ("models:/", "runs:/")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "drift",
        help="per-column and prediction drift of current data against a reference",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--reference", required=True, help="a model (models/package, models:/name@alias, runs:/...) or a Parquet/CSV file or directory"
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--current", type=Path, help="a prediction log directory, or a Parquet/CSV file or directory")
    src.add_argument("--query", help="SQL query for the current rows; values as :name placeholders bound from --param")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="a bound query parameter; repeatable")
    p.add_argument("--db-url", default=None, help="SQLAlchemy URL for --query (default: $MMP_DB_URL)")
    p.add_argument("--model", help="with a data --reference: the model whose feature kinds to use and that scores rows without predictions")
    p.add_argument("--exclude", action="append", default=[], metavar="COLUMN", help="a column not to compare (an id, say); repeatable")
    p.add_argument("--since", help="only current rows with mmp_time at or after this time (ISO 8601, UTC)")
    p.add_argument("--until", help="only current rows with mmp_time before this time (ISO 8601, UTC)")
    p.add_argument("--monitor", default="default", help="thresholds file conf/monitor/NAME.yaml (default: default)")
    p.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override one monitor key, e.g. thresholds.psi=0.3; repeatable"
    )
    p.add_argument("--output", type=Path, required=True, help="report directory (replaced whole)")
    p.set_defaults(func=run)


def is_model(spec: str) -> bool:
    from mmp.serving.loader import RUN_ID

    return spec.startswith(MODEL_PREFIXES) or bool(RUN_ID.match(spec)) or (Path(spec) / "MLmodel").is_file()


def read_frame(path: Path, key: str) -> pd.DataFrame:
    """Every row of a Parquet/CSV file or directory (errors name ``key``)."""
    import pandas as pd

    from mmp.inference.batch import file_chunks

    try:
        chunks, _ = file_chunks(path, 100_000)
        return pd.concat(list(chunks), ignore_index=True)
    except MMPError as err:
        raise MMPError(key, err.rule, err.allowed) from None


def read_current(args: argparse.Namespace) -> pd.DataFrame:
    import pandas as pd

    from mmp.cli.predict import parse_params
    from mmp.inference.batch import sql_chunks

    if not args.query:
        return within(read_frame(args.current, "--current"), args.since, args.until)
    url = args.db_url or os.environ.get("MMP_DB_URL")
    if not url:
        raise MMPError("--db-url", "a database URL is needed with --query", "--db-url or MMP_DB_URL")
    return within(
        pd.concat(list(sql_chunks(url, args.query, parse_params(args.param), 100_000)), ignore_index=True), args.since, args.until
    )


def within(frame: pd.DataFrame, since: str | None, until: str | None) -> pd.DataFrame:
    """The rows logged in [since, until) by their ``mmp_time``."""
    import pandas as pd

    from mmp.data.prediction_log import TIME

    if since is None and until is None:
        return frame
    if TIME not in frame:
        raise MMPError("--since" if since else "--until", f"the current data has no {TIME} column", "a prediction log")
    times = pd.to_datetime(frame[TIME], utc=True)
    keep = pd.Series(True, index=frame.index)
    for flag, bound, inside in (("--since", since, times.__ge__), ("--until", until, times.__lt__)):
        if bound is not None:
            try:
                stamp = pd.Timestamp(bound)
            except ValueError:
                raise MMPError(flag, f"{bound!r} is not a time", "ISO 8601, e.g. 2024-05-01 or 2024-05-01T12:00:00Z") from None
            keep &= inside(stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp)
    return frame[keep]


def load_model(spec: str) -> tuple[ModelWrapper, pd.DataFrame | None]:
    """The model's scorer and its packaged reference sample (None when it has none)."""
    from mmp.inference.reference import read_reference
    from mmp.serving.loader import load_scorer, resolved

    with resolved(spec) as ref:  # a downloaded model's temp dir goes once both are read
        return load_scorer(ref), read_reference(Path(ref.path))


def with_predictions(frame: pd.DataFrame, scorer: ModelWrapper | None) -> pd.DataFrame:
    """``frame`` with the log's prediction columns: its own, else scored by the model."""
    from mmp.data.prediction_log import PREDICTION, SCORE
    from mmp.inference.reference import log_columns

    if scorer is None or any(c in frame and frame[c].notna().any() for c in (SCORE, PREDICTION)):
        return frame
    return frame.drop(columns=[SCORE, PREDICTION], errors="ignore").join(log_columns(scorer, frame))


def prediction_pair(reference: pd.DataFrame, current: pd.DataFrame) -> tuple[pd.Series, pd.Series] | None:
    """The predictions of both sides under the first column both hold: the score, else the prediction."""
    from mmp.data.prediction_log import PREDICTION, SCORE

    for name in (SCORE, PREDICTION):
        if all(name in f and f[name].notna().any() for f in (reference, current)):
            return reference[name].dropna(), current[name].dropna()
    return None


def run(args: argparse.Namespace) -> int:
    from mmp.core.config import checkout_root
    from mmp.core.monitor import load_monitor
    from mmp.data.prediction_log import input_columns
    from mmp.inference.drift import column_kinds, drift_report
    from mmp.ops.drift_report import write_drift_output

    cfg = load_monitor(checkout_root(), args.monitor, args.set)
    scorer = None
    if is_model(args.reference):
        if args.model:
            raise MMPError("--model", "is for a data --reference; this --reference is a model already", "one of them")
        scorer, reference = load_model(args.reference)
        if reference is None:
            raise MMPError(
                "--reference",
                f"{args.reference} holds no reference.parquet (packaged before drift monitoring)",
                "re-run the package stage, or a data file",
            )
    else:
        reference = read_frame(Path(args.reference), "--reference")
        if args.model:
            scorer, _ = load_model(args.model)
    current = read_current(args)
    reference, current = with_predictions(reference, scorer), with_predictions(current, scorer)
    kinds = column_kinds(reference[input_columns(reference.columns)], scorer.schema if scorer else None)
    kinds = {name: kind for name, kind in kinds.items() if name not in args.exclude}
    pair = prediction_pair(reference, current)
    report = drift_report(reference, current, kinds, cfg, pair)
    if pair is not None:  # the plots find the predictions under the report's column name
        reference, current = reference.assign(prediction=pair[0]), current.assign(prediction=pair[1])
    write_drift_output(args.output, report, reference, current)
    compared = len(report.all)
    if report.drifted:
        print(f"drift: {len(report.drifted)} of {compared} drifted: {', '.join(report.drifted)} (report: {args.output})", file=sys.stderr)
        return DRIFT_EXIT
    print(f"no drift in {compared} columns (report: {args.output})")
    return 0
