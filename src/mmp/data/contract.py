"""The data contract: required columns, dtypes, allowed categories and ranges, a non-null target.

``check_contract`` validates with pandera (lazily, so every violation is reported at once) and
turns its failure table into messages that name the column, the rule and what is allowed.
The model's raw input columns are recorded by :mod:`mmp.data.schema`.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from pandas.api import types as ptypes

from mmp.core.config import ColumnRule, Contract, DataConfig
from mmp.core.errors import MMPError, raise_all

DTYPE_CHECKS = {
    "int": lambda s: ptypes.is_integer_dtype(s) or (ptypes.is_float_dtype(s) and bool((s.dropna() % 1 == 0).all())),
    "float": lambda s: ptypes.is_numeric_dtype(s) and not ptypes.is_bool_dtype(s),
    "bool": lambda s: ptypes.is_bool_dtype(s) or bool(s.dropna().isin([0, 1]).all()),
    "category": lambda s: not ptypes.is_float_dtype(s) and not ptypes.is_datetime64_any_dtype(s),
    "string": lambda s: ptypes.is_string_dtype(s) or ptypes.is_object_dtype(s) or isinstance(s.dtype, pd.CategoricalDtype),
    "datetime": ptypes.is_datetime64_any_dtype,
}
MAX_EXAMPLES = 5


def require_columns(frame: pd.DataFrame, cfg: DataConfig) -> None:
    """The target (and declared id/time columns) must exist before anything else is checked."""
    available = ", ".join(map(str, frame.columns))
    errors = [
        MMPError(key, f"column {col!r} not found in the source data", available)
        for key, cols in (
            ("data.target_col", cfg.targets),
            ("data.id_cols", cfg.id_cols),
            ("data.time_col", [cfg.time_col] if cfg.time_col else []),
        )
        for col in cols
        if col not in frame.columns
    ]
    raise_all(errors)


def coerce_dates(frame: pd.DataFrame, contract: Contract) -> pd.DataFrame:
    """Parse declared datetime columns (CSV and JSON sources carry them as text)."""
    frame = frame.copy()
    for name, rule in contract.columns.items():
        if rule.dtype == "datetime" and name in frame and not ptypes.is_datetime64_any_dtype(frame[name]):
            try:
                frame[name] = pd.to_datetime(frame[name])
            except (ValueError, TypeError) as err:
                raise MMPError(f"column {name!r}", f"cannot be parsed as datetime: {err}", "ISO dates such as 2024-01-31") from None
    return frame


def check_contract(frame: pd.DataFrame, contract: Contract, targets: list[str]) -> None:
    import pandera.pandas as pa

    rules = dict(contract.columns)
    for target in targets:  # the target is never allowed to be null, whatever the contract says
        base = rules.get(target)
        rules[target] = base.model_copy(update={"nullable": False}) if base else ColumnRule(dtype="float", nullable=False)
        if base is None and not ptypes.is_numeric_dtype(frame[target]):
            rules[target] = ColumnRule(dtype="category", nullable=False)
    schema = pa.DataFrameSchema(
        {name: pa.Column(nullable=rule.nullable, checks=_checks(rule), required=True) for name, rule in rules.items()},
        strict=not contract.allow_extra_columns,
    )
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as err:
        raise_all(_describe(err.failure_cases, rules))


def _checks(rule: ColumnRule) -> list[Any]:
    import pandera.pandas as pa

    checks = [pa.Check(DTYPE_CHECKS[rule.dtype], error=f"must have dtype {rule.dtype}")]
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
