"""``mmp synth``: the distribution model of the daily synthetic source (a Gaussian copula).

- ``mmp synth fit --output DIR``: fit it to the training rows (default
  data/prepared/train.parquet; target, time and id columns from params.yaml's ``data``) and write
  DIR/copula.json (its sha256 is its version), with fidelity.json and fidelity.png comparing a
  sample as large as the training rows with them. DIR is replaced whole.
- ``mmp synth sample --model DIR --date D --output FILE``: the labelled rows of day D, seeded by
  the date, drifted by a scenario (conf/daily/scenario/) or by ``--knob`` settings.
- ``mmp synth fidelity --real FILE --synthetic FILE --output DIR``: each column's KS statistic
  (categories: total variation distance) and the correlation distance, as JSON and PNG.
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mmp.core.errors import MMPError

if TYPE_CHECKING:
    import pandas as pd

    from mmp.data.copula import CopulaModel

MODEL_FILE = "copula.json"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "synth",
        help="fit, sample and check the synthetic data's distribution model",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    fit = actions.add_parser(
        "fit",
        help="fit the copula to the training rows",
        description="Fit the Gaussian copula and write DIR/copula.json with its fidelity report.",
    )
    fit.add_argument(
        "--input", type=Path, default=Path("data/prepared/train.parquet"), help="training rows, Parquet or CSV (default: %(default)s)"
    )
    fit.add_argument(
        "--output", type=Path, required=True, help="directory for copula.json, fidelity.json and fidelity.png (replaced whole)"
    )
    fit.add_argument("--target", help="the label column (default: data.target_col in params.yaml)")
    fit.add_argument("--time-col", help="set to the sampled day (default: data.time_col in params.yaml)")
    fit.add_argument("--id-col", action="append", help="numbered per day, not modelled; repeatable (default: data.id_cols in params.yaml)")
    fit.add_argument("--joint", action="store_true", help="one copula for all rows (default: one per class of a discrete target)")
    fit.add_argument("--seed", type=int, default=0, help="seeds the fit (default: 0)")
    fit.set_defaults(func=run_fit)

    sample = actions.add_parser("sample", help="the labelled rows of one day", description="Sample the labelled rows of one day.")
    sample.add_argument("--model", type=Path, required=True, help="a copula.json or the directory holding it")
    sample.add_argument("--date", type=_day, required=True, help="the day, YYYY-MM-DD (seeds the rows and fills the time column)")
    sample.add_argument("--rows", type=int, default=1000, help="rows to draw (default: %(default)s)")
    sample.add_argument("--scenario", default="stable", help="conf/daily/scenario/NAME.yaml (default: %(default)s)")
    sample.add_argument("--start", type=_day, default=date(2026, 1, 1), help="day 1 of the scenario (default: %(default)s)")
    sample.add_argument("--drift-from", type=int, help="the scenario's first drifted day (default: the scenario's drift_from)")
    sample.add_argument(
        "--knob",
        action="append",
        default=[],
        metavar="KNOB[.COLUMN]=NUMBER",
        help="a drift knob instead of the scenario's, e.g. mean_shift.credit_score=1.0; repeatable",
    )
    sample.add_argument("--seed", type=int, default=0, help="combined with the date (default: 0)")
    sample.add_argument("--output", type=Path, required=True, help="a .parquet or .csv file")
    sample.set_defaults(func=run_sample)

    fid = actions.add_parser(
        "fidelity", help="how close synthetic rows are to real ones", description="Compare synthetic rows with real ones."
    )
    fid.add_argument("--real", type=Path, required=True, help="real rows, Parquet or CSV")
    fid.add_argument("--synthetic", type=Path, required=True, help="synthetic rows, Parquet or CSV")
    fid.add_argument(
        "--model", type=Path, help="a copula.json (or its directory): compare its columns, with its time column (default: every column)"
    )
    fid.add_argument("--output", type=Path, required=True, help="directory for fidelity.json and fidelity.png (replaced whole)")
    fid.set_defaults(func=run_fidelity)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date: YYYY-MM-DD") from None


def run_fit(args: argparse.Namespace) -> int:
    from mmp.data import copula

    frame = _read(args.input, "--input")
    target, time_col, id_cols = _columns(args)
    model = copula.fit(
        frame, target=target, time_col=time_col, id_cols=tuple(id_cols), by_class=False if args.joint else None, seed=args.seed
    )
    synthetic = copula.sample(model, len(frame), date(2026, 1, 1), seed=args.seed)
    report = copula.fidelity(frame, synthetic, model)
    _replace(args.output, lambda tmp: copula.save(model, tmp / MODEL_FILE), report)
    parts = "one per class of " + str(target) if model.by_class else "one for all rows"
    print(f"wrote {args.output / MODEL_FILE}: sha256 {model.hash[:12]}, {len(model.names)} columns, {len(frame)} rows, copulas: {parts}")
    print(report.summary())
    return 0


def run_sample(args: argparse.Namespace) -> int:
    from mmp.core.io import atomic_path
    from mmp.data.daily import SourceSettings, day_batch

    settings = SourceSettings(
        kind="synthetic",
        distribution=str(_model_file(args.model)),
        rows=args.rows,
        scenario=args.scenario,
        start=args.start,
        drift_from=args.drift_from,
        seed=args.seed,
        knobs=_knobs(args.knob) if args.knob else None,
    )
    writer = _writer(args.output)
    frame = day_batch(settings, args.date)
    with atomic_path(args.output) as tmp:
        writer(frame, tmp)
    print(f"wrote {args.output}: {len(frame)} rows of {args.date.isoformat()}")
    return 0


def run_fidelity(args: argparse.Namespace) -> int:
    from mmp.data import copula

    model: CopulaModel | None = copula.load(_model_file(args.model)) if args.model else None
    report = copula.fidelity(_read(args.real, "--real"), _read(args.synthetic, "--synthetic"), model)
    _replace(args.output, None, report)
    print(report.summary())
    return 0


def _columns(args: argparse.Namespace) -> tuple[str | None, str | None, list[str]]:
    """Target, time and id columns: the flags, else params.yaml's ``data`` (when there is one)."""
    data: dict[str, Any] = {}
    if Path("params.yaml").is_file() and None in (args.target, args.time_col, args.id_col):
        from mmp.core.config import read_params

        data = read_params().get("data") or {}
    target = args.target if args.target is not None else data.get("target_col")
    if isinstance(target, list):  # several targets: modelled as columns like any other
        target = None
    time_col = args.time_col if args.time_col is not None else data.get("time_col")
    ids = args.id_col if args.id_col is not None else list(data.get("id_cols") or [])
    return target, time_col, ids


def _knobs(pairs: list[str]) -> Any:
    """``mean_shift=0.5`` (every column) and ``mean_shift.credit_score=1.0`` (one) as DriftKnobs."""
    from mmp.core.parsing import parse
    from mmp.data.knobs import DriftKnobs

    raw: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        knob, _, column = key.partition(".")
        try:
            number = float(text)
        except ValueError:
            raise MMPError(f"--knob {pair}", "needs KNOB[.COLUMN]=NUMBER", "e.g. mean_shift=0.5 or mean_shift.credit_score=1.0") from None
        if not sep or (column and not isinstance(raw.get(knob, {}), dict)) or (not column and knob in raw):
            raise MMPError(f"--knob {pair}", "sets a knob twice, or both for every column and for one", "one number, or one per column")
        if column:
            raw.setdefault(knob, {})[column] = number
        else:
            raw[knob] = number
    return parse(DriftKnobs, raw, "--knob")


def _model_file(path: Path) -> Path:
    return path / MODEL_FILE if path.is_dir() else path


def _read(path: Path, key: str) -> pd.DataFrame:
    from mmp.data.sources import read_file

    return read_file(str(path), key)


def _writer(path: Path) -> Any:
    writers = {".parquet": lambda f, p: f.to_parquet(p, index=False), ".csv": lambda f, p: f.to_csv(p, index=False)}
    if path.suffix.lower() not in writers:
        raise MMPError("--output", f"unsupported file type {path.suffix or '(none)'!r}", ", ".join(writers))
    return writers[path.suffix.lower()]


def _replace(folder: Path, write_model: Any, report: Any) -> None:
    """``folder`` replaced whole by the model (if any) and the fidelity report, or left as it was."""
    from mmp.core.io import atomic_path
    from mmp.data.fidelity_report import JSON_FILE, write_fidelity

    if folder.is_dir() and any(folder.iterdir()) and not (folder / JSON_FILE).is_file():
        raise MMPError("--output", f"{folder} is a non-empty directory without a {JSON_FILE}", "a new directory or an earlier synth output")
    with atomic_path(folder) as tmp:
        tmp.mkdir()
        if write_model is not None:
            write_model(tmp)
        write_fidelity(report, tmp)
