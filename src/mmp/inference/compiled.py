"""A precompiled numpy path for a fitted featurizer.

Per-request pandas and ``ColumnTransformer.transform`` cost milliseconds; the same arithmetic on
plain numpy arrays costs microseconds. ``compile_featurizer`` reads the learned statistics of the
fitted transformers (imputer fill values, scaler centres and scales, encoder tables) into plain
numpy operations whose output equals sklearn's (a test checks it on real data).

Only transformer types listed here are compiled. Anything else raises ``NotCompilable``; the
caller then uses the sklearn path and says so once at start-up (never silently).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, OrdinalEncoder, RobustScaler, StandardScaler

from mmp.modeling.features import AsText, DateParts

# Columns arrive as numpy arrays (batch) or lists (one request): both are "array-like".
Columns = Mapping[str, Sequence[Any] | np.ndarray]
Step = Callable[[np.ndarray], np.ndarray]
Row = Callable[[Columns], list[float]]  # one block on the first row's values, as Python floats
ScalarStep = Callable[[list[float]], list[float]]
SMALL = 32  # below this many rows a dict lookup beats building a pandas index


class NotCompilable(Exception):
    """The featurizer holds a transformer this module does not know."""


@dataclass
class CompiledFeaturizer:
    blocks: list[Callable[[Columns], np.ndarray]]
    feature_names: list[str]
    keep: np.ndarray | None = None  # boolean mask of a fitted feature selector, if any
    # The same blocks on one row's Python scalars: a dozen numpy calls on 1-element arrays cost
    # more than the arithmetic itself (the serving and pyfunc hot path is one record).
    rows: list[Row] | None = None
    first: str | None = None  # a column every call reads: its length is the number of rows

    def transform(self, columns: Columns) -> np.ndarray:
        """Raw columns (name -> values) to the float32 feature matrix sklearn would produce."""
        if self.rows is not None and self.first is not None and len(columns[self.first]) == 1:
            return self.transform_row(columns)
        with np.errstate(over="ignore"):  # huge values become inf in float32, as in the sklearn path
            X = np.hstack([block(columns) for block in self.blocks]).astype(np.float32, copy=False)
        return X if self.keep is None else X[:, self.keep]

    def transform_row(self, columns: Columns) -> np.ndarray:
        """:meth:`transform` of a one-row input on Python floats: the same IEEE double operations
        in the same order, then the same cast to float32, so the output is equal bit for bit."""
        assert self.rows is not None
        values = [v for row in self.rows for v in row(columns)]
        with np.errstate(over="ignore", invalid="ignore"):
            X = np.array([values], dtype=np.float32)
        return X if self.keep is None else X[:, self.keep]

    def select(self, support: np.ndarray) -> CompiledFeaturizer:
        """Keep the columns a fitted selector supports (``get_support()``), after this one's."""
        keep = support if self.keep is None else _chain(self.keep, support)
        names = [n for n, k in zip(self.feature_names, support, strict=True) if k]
        return CompiledFeaturizer(self.blocks, names, keep, self.rows, self.first)


def _chain(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    keep = first.copy()
    keep[np.flatnonzero(first)] = second
    return keep


def compile_featurizer(featurizer: Any) -> CompiledFeaturizer:
    """Compile mmp's featurizer: a ColumnTransformer, optionally inside a Pipeline whose later
    steps are fitted feature selectors (anything with ``get_support``)."""
    if isinstance(featurizer, Pipeline):
        first, *selectors = [step for _, step in featurizer.steps]
        compiled = compile_featurizer(first)
        for selector in selectors:
            if not hasattr(selector, "get_support"):
                raise NotCompilable(f"{type(selector).__name__} after the column transformer is not a feature selector")
            compiled = compiled.select(np.asarray(selector.get_support()))
        return compiled
    if not isinstance(featurizer, ColumnTransformer):
        raise NotCompilable(f"{type(featurizer).__name__} is not a ColumnTransformer")
    blocks, rows, first = [], [], None
    for _, pipe, cols in featurizer.transformers_:
        if pipe == "drop":
            continue
        if pipe == "passthrough":
            raise NotCompilable(f"passthrough columns {list(cols)}")
        steps = [s for _, s in pipe.steps] if isinstance(pipe, Pipeline) else [pipe]
        block, row = _compile_block(list(cols), steps)
        blocks.append(block)
        rows.append(row)
        first = first or (list(cols) or [None])[0]
    return CompiledFeaturizer(blocks, [str(n) for n in featurizer.get_feature_names_out()], rows=rows, first=first)


def _compile_block(cols: list[str], steps: list[Any]) -> tuple[Callable[[Columns], np.ndarray], Row]:
    """One transformer as a numpy function of the columns and as the same on one row."""
    if steps and isinstance(steps[0], AsText):
        return _categorical_block(cols, steps[1:])
    if steps and isinstance(steps[0], DateParts):
        parts = [_date_part(p) for p in steps[0].parts]
        scalar_parts = [SCALAR_DATE_PARTS[p] for p in steps[0].parts]
        numeric, scalar = _numeric_steps(steps[1:])
        return (
            lambda columns: _apply(np.column_stack([p(_as_datetime(columns[c])) for c in cols for p in parts]), numeric),
            lambda columns: _apply(_date_row([_first(columns[c]) for c in cols], scalar_parts), scalar),
        )
    numeric, scalar = _numeric_steps(steps)
    return (
        lambda columns: _apply(np.column_stack([_as_float(columns[c]) for c in cols]), numeric),
        lambda columns: _apply([_float(_first(columns[c])) for c in cols], scalar),
    )


def _apply(X: Any, steps: list[Any]) -> Any:
    for step in steps:
        X = step(X)
    return X


def _numeric_steps(steps: list[Any]) -> tuple[list[Step], list[ScalarStep]]:
    pairs = [_numeric_step(s) for s in steps]
    return [array for array, _ in pairs], [scalar for _, scalar in pairs]


def _numeric_step(step: Any) -> tuple[Step, ScalarStep]:
    """Imputers and scalers as elementwise numpy (float64, like sklearn), and as the same
    operations on a row of Python floats (IEEE doubles too: equal results)."""
    if isinstance(step, SimpleImputer) and step.add_indicator is False and _is_nan(step.missing_values):
        fill = np.asarray(step.statistics_, dtype=np.float64)
        fills = fill.tolist()
        return lambda X: np.where(np.isnan(X), fill, X), lambda row: [f if v != v else v for v, f in zip(row, fills, strict=True)]
    if isinstance(step, StandardScaler):
        return _shift_scale_pair(step.mean_ if step.with_mean else None, step.scale_ if step.with_std else None)
    if isinstance(step, RobustScaler):
        return _shift_scale_pair(step.center_ if step.with_centering else None, step.scale_ if step.with_scaling else None)
    if isinstance(step, MinMaxScaler) and not step.clip:
        scale, offset = step.scale_, step.min_
        scales, offsets = scale.tolist(), offset.tolist()
        return lambda X: X * scale + offset, lambda row: [v * s + o for v, s, o in zip(row, scales, offsets, strict=True)]
    raise NotCompilable(f"{type(step).__name__} (with these settings) in a numeric pipeline")


def _shift_scale_pair(centre: np.ndarray | None, scale: np.ndarray | None) -> tuple[Step, ScalarStep]:
    centres = None if centre is None else np.asarray(centre, dtype=np.float64).tolist()
    scales = None if scale is None else np.asarray(scale, dtype=np.float64).tolist()

    def row(values: list[float]) -> list[float]:
        if centres is not None:
            values = [v - c for v, c in zip(values, centres, strict=True)]
        if scales is not None:
            values = [v / s for v, s in zip(values, scales, strict=True)]
        return values

    return lambda X: _shift_scale(X, centre, scale), row


def _shift_scale(X: np.ndarray, centre: np.ndarray | None, scale: np.ndarray | None) -> np.ndarray:
    if centre is not None:
        X = X - centre
    if scale is not None:
        X = X / scale
    return X


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and np.isnan(value)


def _categorical_block(cols: list[str], steps: list[Any]) -> tuple[Callable[[Columns], np.ndarray], Row]:
    """AsText -> SimpleImputer -> One-hot/Ordinal encoder becomes, per column, a lookup table
    from the text value to its output row. The rows are produced by the fitted encoder itself,
    one per known category plus one for an unseen value, so infrequent-category merging,
    ``drop`` and ``handle_unknown`` behave exactly as in sklearn."""
    if len(steps) != 2 or not isinstance(steps[0], SimpleImputer) or not isinstance(steps[1], OneHotEncoder | OrdinalEncoder):
        raise NotCompilable(f"categorical pipeline {[type(s).__name__ for s in steps]}")
    imputer, encoder = steps
    if imputer.add_indicator or not (_is_nan(imputer.missing_values) or imputer.missing_values is None):
        raise NotCompilable("SimpleImputer with an indicator or a custom missing value")
    lookups = []
    for j, col in enumerate(cols):
        known = [str(c) for c in encoder.categories_[j]]
        probe = pd.DataFrame({c: [encoder.categories_[k][0]] * (len(known) + 1) for k, c in enumerate(cols)})
        probe[col] = np.asarray([*encoder.categories_[j], _unseen(known)], dtype=object)
        try:
            table = np.asarray(encoder.transform(probe), dtype=np.float64)
        except ValueError:  # handle_unknown="error": an unseen value must fail as it would in sklearn
            table = np.vstack(
                [
                    np.asarray(encoder.transform(probe.iloc[:-1]), dtype=np.float64),
                    np.full(encoder.transform(probe.iloc[:1]).shape[1], np.nan),
                ]
            )
        width = _output_slice(encoder, j)
        lookups.append(_Lookup(known, table[:, width], str(imputer.statistics_[j])))
    pairs = list(zip(lookups, cols, strict=True))
    return (
        lambda columns: np.hstack([lookup(columns[c]) for lookup, c in pairs]),
        lambda columns: [v for lookup, c in pairs for v in lookup.row(_first(columns[c]))],
    )


def _unseen(known: list[str]) -> str:
    value = "__mmp_unseen__"
    while value in known:
        value += "_"
    return value


def _output_slice(encoder: Any, j: int) -> slice:
    """Which output columns belong to input column ``j``."""
    if isinstance(encoder, OrdinalEncoder):
        return slice(j, j + 1)
    names = encoder.get_feature_names_out()
    widths = [sum(1 for n in names if n.startswith(f"{f}_")) for f in encoder.feature_names_in_]
    if sum(widths) != len(names):
        raise NotCompilable("one-hot feature names are ambiguous (a column name is a prefix of another)")
    start = sum(widths[:j])
    return slice(start, start + widths[j])


class _Lookup:
    """Text category -> output row; missing values take the imputer's fill value."""

    def __init__(self, known: list[str], table: np.ndarray, fill: str):
        self.index = {k: i for i, k in enumerate(known)}
        self.pandas_index = pd.Index(known)
        self.known, self.table, self.fill, self.unseen = known, table, fill, len(known)
        self.refuses_unseen = bool(np.isnan(table).any())  # handle_unknown="error": its row is NaN
        self.rows: list[list[float]] = table.tolist()

    def row(self, value: Any) -> list[float]:
        """:meth:`__call__` of one value, as Python floats."""
        code = self.index.get(self.fill if _missing(value) else str(value), self.unseen)
        if self.refuses_unseen and code == self.unseen:
            raise ValueError(f"unknown categories {[str(value)]}")
        return self.rows[code]

    def __call__(self, values: Sequence[Any] | np.ndarray) -> np.ndarray:
        codes: np.ndarray | None
        if len(values) < SMALL:
            codes = np.fromiter(
                (self.index.get(self.fill if _missing(v) else str(v), self.unseen) for v in values), dtype=np.intp, count=len(values)
            )
        else:
            codes = self._arrow_codes(values)
            if codes is None:
                codes = self.pandas_index.get_indexer(_as_text(values, self.fill))
                codes[codes < 0] = self.unseen
        rows = self.table[codes]
        if self.refuses_unseen and np.isnan(rows).any():
            bad = sorted({str(v) for v, c in zip(values, codes, strict=True) if c == self.unseen})
            raise ValueError(f"unknown categories {bad[:5]}")
        return rows

    def _arrow_codes(self, values: Any) -> np.ndarray | None:
        """Vectorised lookup for string columns (pandas' Arrow-backed text); None otherwise,
        because Arrow's text for numbers and booleans differs from Python's ``str``."""
        import pyarrow as pa
        import pyarrow.compute as pc

        arr = getattr(values, "_pa_array", None)
        if arr is None:
            try:
                arr = pa.array(np.asarray(values, dtype=object), from_pandas=True)
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                return None
        if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
            return None
        arr = pc.fill_null(arr.cast(pa.string()), self.fill)
        index = pc.index_in(arr, value_set=pa.array(self.known, type=pa.string()))
        return np.asarray(pc.fill_null(index, self.unseen).to_numpy(zero_copy_only=False), dtype=np.intp)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value) or value is pd.NA or value is pd.NaT


def _as_text(values: Sequence[Any] | np.ndarray, fill: str) -> np.ndarray:
    series = pd.Series(values, copy=False)
    return series.astype(str).where(series.notna(), fill).to_numpy(dtype=object)


def _as_float(values: Sequence[Any] | np.ndarray) -> np.ndarray:
    if isinstance(values, np.ndarray) and values.dtype.kind in "fiub":
        return values.astype(np.float64, copy=False)
    return np.asarray([np.nan if _missing(v) else v for v in values], dtype=np.float64)


def _first(values: Sequence[Any] | np.ndarray) -> Any:
    """The one value of a one-row column, by position (a pandas Series indexes by label)."""
    return values.iloc[0] if isinstance(values, pd.Series) else values[0]


def _float(value: Any) -> float:
    """One value as :func:`_as_float` converts it (a served record's numbers are plain floats
    and ints: checked first, by exact type)."""
    kind = type(value)
    if kind is float:
        return value if value == value else np.nan
    if kind is int:
        return float(value)
    return np.nan if _missing(value) else float(value)


def _date_row(values: list[Any], parts: list[Callable[[datetime], int]]) -> list[float]:
    """The date parts of one value per column, as :func:`_date_part` computes them (NaT: NaN).
    The value is converted as :func:`_as_datetime` converts it (microseconds)."""
    out: list[float] = []
    for value in values:
        moment = _moment(value)
        out.extend(np.nan if moment is None else float(part(moment)) for part in parts)
    return out


def _moment(value: Any) -> datetime | None:
    """One value as a naive datetime in microseconds, as numpy converts it; a naive datetime
    (what a served record holds) already is one: numpy's round trip costs microseconds a date."""
    if type(value) is datetime and value.tzinfo is None:
        return value
    return None if _missing(value) else np.datetime64(value, "us").item()


def _as_datetime(values: Sequence[Any] | np.ndarray) -> np.ndarray:
    if isinstance(values, np.ndarray) and values.dtype.kind == "M":
        return values
    return np.asarray([np.datetime64("NaT") if _missing(v) else np.datetime64(v, "us") for v in values], dtype="datetime64[us]")


def _date_part(part: str) -> Callable[[np.ndarray], np.ndarray]:
    """pandas ``.dt.<part>`` on datetime64 arrays; NaT becomes NaN."""
    if part not in DATE_PARTS:
        raise NotCompilable(f"date part {part!r}")
    fn = DATE_PARTS[part]

    def compute(values: np.ndarray) -> np.ndarray:
        out = fn(values).astype(np.float64)
        out[np.isnat(values)] = np.nan
        return out

    return compute


def _days(values: np.ndarray) -> np.ndarray:
    return values.astype("datetime64[D]").astype(np.int64)


DATE_PARTS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "year": lambda v: v.astype("datetime64[Y]").astype(np.int64) + 1970,
    "month": lambda v: v.astype("datetime64[M]").astype(np.int64) % 12 + 1,
    "day": lambda v: (v.astype("datetime64[D]") - v.astype("datetime64[M]")).astype(np.int64) + 1,
    "dayofweek": lambda v: (_days(v) + 3) % 7,  # 1970-01-01 was a Thursday (Monday == 0)
    "quarter": lambda v: (v.astype("datetime64[M]").astype(np.int64) % 12) // 3 + 1,
    "dayofyear": lambda v: (v.astype("datetime64[D]") - v.astype("datetime64[Y]")).astype(np.int64) + 1,
    "hour": lambda v: (v.astype("datetime64[h]") - v.astype("datetime64[D]")).astype(np.int64),
}
SCALAR_DATE_PARTS: dict[str, Callable[[datetime], int]] = {
    "year": lambda d: d.year,
    "month": lambda d: d.month,
    "day": lambda d: d.day,
    "dayofweek": lambda d: d.weekday(),
    "quarter": lambda d: (d.month - 1) // 3 + 1,
    "dayofyear": lambda d: d.timetuple().tm_yday,
    "hour": lambda d: d.hour,
}
