"""``mmp label``: join later-arriving true labels into the prediction log.

The labels file (Parquet or CSV) uses the log's column names: `mmp_label` plus the key,
`mmp_request_id` (the X-Request-ID of the response; with `mmp_row`, one record of the request,
else all of them) for --on request_id, or `mmp_entity_key` (e.g. the customer id: every logged
row of that entity) for --on entity. A label given again replaces the earlier one. Labels whose
key is not in the log are counted and the first few named. Parquet logs: each file holding a
labelled row is rewritten atomically; SQL logs: one transaction adds/updates `mmp_label`.
The log: --log, else MMP_PREDICTION_LOG, else serving.prediction_log in conf/env/<APP_ENV>.yaml.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "label",
        help="join later labels into the prediction log (by request id or entity key)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--input", type=Path, required=True, help="labels: a Parquet or CSV file")
    p.add_argument("--log", metavar="DIR|URL", help="the prediction log: a Parquet directory or a SQLAlchemy URL")
    p.add_argument("--table", help="the log's SQL table (default: serving.prediction_log.table, mmp_prediction_log)")
    p.add_argument("--on", choices=["request_id", "entity"], default="request_id", help="join key (default: request_id)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mmp.ops.monitoring.labels import label_log, read_labels
    from mmp.ops.monitoring.logs import log_settings

    settings = log_settings(args.log, args.table)
    labels, keys = read_labels(args.input, args.on)
    result = label_log(settings, labels, keys)
    print(result.summary(settings.label))
    return 0
