"""The data contract: required columns, dtypes, allowed categories and ranges, a non-null target.

``check_contract`` checks the rules directly and, when one breaks, validates with pandera (lazily,
so every violation is reported at once) and turns its failure table into messages that name the
column, the rule and what is allowed.
The model's raw input columns are recorded by :mod:`mmp.data.schema`.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from pandas.api import types as ptypes

from mmp.core.config import ColumnRule, Contract, DataConfig
from mmp.core.errors import MMPError, raise_all

# Whether a whole column has the declared dtype (after the values themselves parsed, see
# ``unparsed``): numbers held as text, or a float column declared a category, fail here.
DTYPE_CHECKS = {
    "int": lambda s: ptypes.is_integer_dtype(s) or (ptypes.is_float_dtype(s) and bool((s.dropna() % 1 == 0).all())),
    "float": lambda s: ptypes.is_numeric_dtype(s) and not ptypes.is_bool_dtype(s),
    "bool": lambda s: ptypes.is_bool_dtype(s) or bool(s.dropna().isin([0, 1]).all()),
    "category": lambda s: not ptypes.is_float_dtype(s) and not ptypes.is_datetime64_any_dtype(s),
    "string": lambda s: ptypes.is_string_dtype(s) or ptypes.is_object_dtype(s) or isinstance(s.dtype, pd.CategoricalDtype),
    "datetime": ptypes.is_datetime64_any_dtype,
}
# What a value of each parsed dtype looks like, for the message naming the values that do not.
PARSE_HINTS = {
    "int": "whole numbers such as 12; leave a missing value empty",
    "float": "numbers such as 1234.5, without thousands separators; leave a missing value empty",
    "bool": "True/False or 1/0",
    "datetime": "ISO dates such as 2024-01-31",
}
MAX_EXAMPLES = 5


def unparsed(values: pd.Series, dtype: str) -> pd.Series:
    """The non-null ``values`` that cannot be read as ``dtype`` (empty for the dtypes that are
    about the whole column, not each value: category and string)."""
    values = values.dropna()
    if dtype in ("int", "float") and not ptypes.is_bool_dtype(values):
        numbers = values if ptypes.is_numeric_dtype(values) else pd.to_numeric(values, errors="coerce")
        bad = numbers.isna() | ((numbers % 1 != 0) if dtype == "int" else False)
        return values[bad]
    if dtype == "bool" and not ptypes.is_bool_dtype(values):
        return values[~values.isin([0, 1])]
    if dtype == "datetime" and not ptypes.is_datetime64_any_dtype(values):
        return values[pd.to_datetime(values, errors="coerce").isna()]
    return values.iloc[:0]


def parse_error(column: str, bad: pd.Series, dtype: str) -> MMPError:
    """``column``'s values that failed to parse: how many, and the first few with their rows."""
    first = bad.iloc[:MAX_EXAMPLES]
    examples = ", ".join(f"row {row}: {value!r}" for row, value in zip(first.index.tolist(), first.tolist(), strict=True))
    return MMPError(f"column {column!r}", f"{len(bad)} value(s) cannot be parsed as {dtype}, e.g. {examples}", PARSE_HINTS[dtype])


def dtype_problem(column: str, series: pd.Series, dtype: str) -> MMPError | None:
    """Why ``series`` does not hold ``dtype``: the values that do not parse (with their rows), or
    the column's dtype when every value is fine on its own. A column without values passes:
    there is nothing to parse (a header-only batch file carries no dtypes)."""
    if series.dropna().empty:
        return None
    bad = unparsed(series, dtype)
    if not bad.empty:
        return parse_error(column, bad, dtype)
    if not DTYPE_CHECKS[dtype](series):
        return MMPError(f"column {column!r}", f"has dtype {series.dtype}, not {dtype}")
    return None


def require_columns(frame: pd.DataFrame, cfg: DataConfig) -> None:
    """The target (and declared id/time/treatment/effect columns) must exist before anything else is checked."""
    available = ", ".join(map(str, frame.columns))
    errors = [
        MMPError(key, f"column {col!r} not found in the source data", available)
        for key, cols in (
            ("data.target_col", cfg.targets),
            ("data.id_cols", cfg.id_cols),
            ("data.time_col", [cfg.time_col] if cfg.time_col else []),
            ("data.treatment_col", [cfg.treatment_col] if cfg.treatment_col else []),
            ("data.effect_col", [cfg.effect_col] if cfg.effect_col else []),
        )
        for col in cols
        if col not in frame.columns
    ]
    raise_all(errors)


def coerce_dates(frame: pd.DataFrame, contract: Contract) -> pd.DataFrame:
    """Parse declared datetime columns (CSV and JSON sources carry them as text); every value
    that is not a date is reported with its row."""
    frame = frame.copy()
    errors = []
    for name, rule in contract.columns.items():
        if rule.dtype == "datetime" and name in frame and not ptypes.is_datetime64_any_dtype(frame[name]):
            bad = unparsed(frame[name], "datetime")
            if bad.empty:
                frame[name] = pd.to_datetime(frame[name])
            else:
                errors.append(parse_error(name, bad, "datetime"))
    raise_all(errors)
    return frame


def check_contract(frame: pd.DataFrame, contract: Contract, targets: list[str]) -> None:
    rules = dict(contract.columns)
    for target in targets:  # the target is never allowed to be null, whatever the contract says
        base = rules.get(target)
        rules[target] = base.model_copy(update={"nullable": False}) if base else ColumnRule(dtype="float", nullable=False)
        if base is None and not ptypes.is_numeric_dtype(frame[target]):
            rules[target] = ColumnRule(dtype="category", nullable=False)
    # A column whose values do not parse gets one message naming them; its range and category
    # checks would only repeat it as comparison errors between text and numbers.
    mistyped = {name: err for name, rule in rules.items() if name in frame and (err := dtype_problem(name, frame[name], rule.dtype))}
    if not mistyped and holds(frame, rules, contract.allow_extra_columns):
        return  # pandera would find nothing to report
    import pandera.pandas as pa  # (its import alone costs about 0.1 s)

    schema = pa.DataFrameSchema(
        {
            name: pa.Column(nullable=rule.nullable, checks=[] if name in mistyped else _checks(rule), required=True)
            for name, rule in rules.items()
        },
        strict=not contract.allow_extra_columns,
    )
    errors = list(mistyped.values())
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as err:
        errors += _describe(err.failure_cases, rules)
    raise_all(errors)


def holds(frame: pd.DataFrame, rules: dict[str, ColumnRule], allow_extra: bool) -> bool:
    """Whether every rule holds, checked directly on the columns: the rules pandera is given
    (present, no extra column unless allowed, not null, min, max, allowed; a check ignores
    nulls, as pandera's do). Pandera's validation of a 100k-row batch chunk cost about 0.15 s,
    most of ``mmp predict``'s own time beside the model's; these checks cost milliseconds.
    Only a frame that breaks a rule (or leaves any doubt: repeated column names, a comparison
    that raises) goes to pandera, which words every error."""
    names = frame.columns
    if not names.is_unique or any(name not in names for name in rules):
        return False
    if not allow_extra and any(name not in rules for name in names):
        return False
    try:
        return all(_column_holds(frame[name], rule) for name, rule in rules.items())
    except (TypeError, ValueError):
        return False


def _column_holds(column: pd.Series, rule: ColumnRule) -> bool:
    missing = column.isna()
    if missing.any():
        if not rule.nullable:
            return False
        column = column[~missing]
    if rule.min is not None and not bool((column >= rule.min).all()):
        return False
    if rule.max is not None and not bool((column <= rule.max).all()):
        return False
    return rule.allowed is None or bool(column.isin(rule.allowed).all())


def _checks(rule: ColumnRule) -> list[Any]:
    import pandera.pandas as pa

    checks: list[Any] = []
    if rule.min is not None:
        checks.append(pa.Check.ge(rule.min, error=f"must be >= {rule.min:g}"))
    if rule.max is not None:
        checks.append(pa.Check.le(rule.max, error=f"must be <= {rule.max:g}"))
    if rule.allowed is not None:
        checks.append(pa.Check.isin(rule.allowed, error="must be one of the allowed values"))
    return checks


def _describe(failures: pd.DataFrame, rules: dict[str, ColumnRule]) -> list[MMPError]:
    errors: list[MMPError] = []
    for (column, check), group in failures.groupby(["column", "check"], dropna=False, sort=False):
        values = group["failure_case"].tolist()
        if check == "column_in_dataframe":
            errors.extend(MMPError(f"column {v!r}", "required by the data contract but missing from the data") for v in values)
        elif check == "column_in_schema":
            errors.extend(
                MMPError(f"column {v!r}", "is not in the data contract and data.contract.allow_extra_columns is false", ", ".join(rules))
                for v in values
            )
        else:
            errors.append(_row_error(str(column), str(check), group, rules.get(str(column))))
    return errors


def _row_error(column: str, check: str, group: pd.DataFrame, rule: ColumnRule | None) -> MMPError:
    rows = [int(i) for i in group["index"].dropna().tolist()]
    examples = ", ".join(map(repr, group["failure_case"].tolist()[:MAX_EXAMPLES]))
    where = f"{len(rows)} row(s), e.g. rows {rows[:MAX_EXAMPLES]} with {examples}" if rows else f"got {examples}"
    if check == "not_nullable":
        return MMPError(f"column {column!r}", f"must not be null; {len(rows)} null row(s), e.g. rows {rows[:MAX_EXAMPLES]}")
    allowed = None
    if rule is not None and "allowed" in check:
        allowed = ", ".join(map(str, rule.allowed or []))
    return MMPError(f"column {column!r}", f"{check}; {where}", allowed)
