"""Drift between a reference sample and current data: pure statistics, typed results.

Per column, by its kind: numbers get the population stability index (PSI, on quantile bins
fitted on the reference) and the two-sample Kolmogorov-Smirnov test; categories get PSI over
the categories, the chi-square test of homogeneity and the Jensen-Shannon distance. A category
the reference never saw is a category of its own (it is what drift looks like), and missing
values are one more bin or category, so a jump in the null rate is drift too. Which statistic
decides ``drifted`` is the monitor config's gate for the kind (:mod:`mmp.core.monitor`); every
statistic is reported. No I/O: ``mmp drift`` and the daily loop read the data, call
:func:`drift_report` and write what it returns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from mmp.core.errors import MMPError
from mmp.core.monitor import P_VALUES, MonitorConfig, Statistic
from mmp.data.schema import InputSchema, column_kind

Kind = Literal["numeric", "categorical"]
MISSING = "(missing)"  # the category of a missing value


@dataclass(frozen=True)
class ColumnDrift:
    """One column's verdict: the gate ``statistic``, its ``value`` against ``threshold``
    (a p-value drifts below it, a distance above it), and every statistic computed."""

    column: str
    kind: Kind
    statistic: Statistic
    value: float
    threshold: float
    drifted: bool
    statistics: dict[str, float] = field(default_factory=dict)

    @property
    def severity(self) -> float:
        """How far past the threshold, as a ratio: above 1 is drift, whatever the statistic."""
        if self.statistic in P_VALUES:
            return self.threshold / max(self.value, 1e-300)
        return self.value / self.threshold


@dataclass(frozen=True)
class DriftReport:
    columns: list[ColumnDrift]
    prediction: ColumnDrift | None
    reference_rows: int
    current_rows: int
    skipped: dict[str, str] = field(default_factory=dict)  # column -> why it was not compared

    @property
    def all(self) -> list[ColumnDrift]:
        return [*self.columns, *([self.prediction] if self.prediction else [])]

    @property
    def drifted(self) -> list[str]:
        return [c.column for c in self.all if c.drifted]

    def to_json(self) -> dict[str, Any]:
        return {
            "drifted": bool(self.drifted),
            "drifted_columns": self.drifted,
            "reference_rows": self.reference_rows,
            "current_rows": self.current_rows,
            "columns": [asdict(c) for c in self.columns],
            "prediction": asdict(self.prediction) if self.prediction else None,
            "skipped": self.skipped,
        }


# -- the statistics ----------------------------------------------------------------------------


def quantile_edges(reference: np.ndarray, bins: int) -> np.ndarray:
    """Inner bin edges at the reference's quantiles (repeated edges merged: a column with few
    distinct values gets fewer bins). Outer bins are open, so nothing falls outside."""
    finite = reference[~np.isnan(reference)]
    if finite.size == 0:
        return np.array([])
    return np.unique(np.quantile(finite, np.linspace(0, 1, bins + 1)[1:-1]))


def numeric_bins(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts per bin (``len(edges) + 1`` of them) plus a last bin for missing values."""
    nan = np.isnan(values)
    counts = np.bincount(np.searchsorted(edges, values[~nan], side="right"), minlength=len(edges) + 1)
    return np.append(counts, nan.sum())


def psi_from_counts(reference: np.ndarray, current: np.ndarray, epsilon: float) -> float:
    """PSI = sum((c - r) * ln(c / r)) over bins, proportions floored at ``epsilon``."""
    r = np.maximum(reference / max(reference.sum(), 1), epsilon)
    c = np.maximum(current / max(current.sum(), 1), epsilon)
    return float(np.sum((c - r) * np.log(c / r)))


def psi(reference: np.ndarray, current: np.ndarray, bins: int = 10, epsilon: float = 1e-4) -> float:
    """The population stability index of a numeric column, bins fitted on ``reference``."""
    ref, cur = np.asarray(reference, dtype=float), np.asarray(current, dtype=float)
    edges = quantile_edges(ref, bins)
    return psi_from_counts(numeric_bins(ref, edges), numeric_bins(cur, edges), epsilon)


def ks(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    """The two-sample Kolmogorov-Smirnov statistic and p-value (missing values left out)."""
    from scipy.stats import ks_2samp

    ref, cur = (np.asarray(v, dtype=float) for v in (reference, current))
    ref, cur = ref[~np.isnan(ref)], cur[~np.isnan(cur)]
    if ref.size == 0 or cur.size == 0:
        return 0.0, 1.0
    result = ks_2samp(ref, cur)
    return float(result.statistic), float(result.pvalue)


def category_counts(reference: pd.Series, current: pd.Series) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Counts of each category on both sides, over the union of their categories."""
    ref, cur = (s.astype(object).where(s.notna(), MISSING).astype(str) for s in (reference, current))
    ref_counts, cur_counts = ref.value_counts(), cur.value_counts()
    categories = sorted(set(ref_counts.index) | set(cur_counts.index))
    return ref_counts.reindex(categories, fill_value=0).to_numpy(), cur_counts.reindex(categories, fill_value=0).to_numpy(), categories


def chi2_pvalue(reference: np.ndarray, current: np.ndarray) -> float:
    """The chi-square test of homogeneity on the 2 x categories table of counts."""
    from scipy.stats import chi2_contingency

    table = np.vstack([reference, current])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return 1.0  # one category on both sides: nothing can have moved
    return float(chi2_contingency(table).pvalue)


def js_distance(reference: np.ndarray, current: np.ndarray) -> float:
    """The Jensen-Shannon distance (base 2: 0 identical, 1 disjoint) of two count vectors."""
    from scipy.spatial.distance import jensenshannon

    if reference.sum() == 0 or current.sum() == 0:
        return 0.0
    return float(jensenshannon(reference, current, base=2))


# -- per column --------------------------------------------------------------------------------


def numeric_values(series: pd.Series, dates: bool = False) -> np.ndarray:
    """A numeric (or, with ``dates``, date) column as float64 with NaN for missing; dates as
    epoch seconds. Text that does not parse is missing."""
    if dates or pd.api.types.is_datetime64_any_dtype(series):
        stamps = pd.to_datetime(series, errors="coerce", utc=True)
        # by arithmetic, not the int64 view: its unit (ns, us, s) varies with the source
        seconds = (stamps - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)
        return seconds.to_numpy(dtype=np.float64, na_value=np.nan)
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def numeric_pair(reference: pd.Series, current: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Both sides as numbers on one scale: dates on both when either holds dates (a CSV's
    dates arrive as text)."""
    dates = any(pd.api.types.is_datetime64_any_dtype(s) for s in (reference, current))
    return numeric_values(reference, dates), numeric_values(current, dates)


def statistics(reference: pd.Series, current: pd.Series, kind: Kind, cfg: MonitorConfig) -> dict[str, float]:
    if kind == "numeric":
        ref, cur = numeric_pair(reference, current)
        d, p = ks(ref, cur)
        return {"psi": psi(ref, cur, cfg.bins, cfg.epsilon), "ks": p, "ks_statistic": d}
    ref_counts, cur_counts, _ = category_counts(reference, current)
    return {
        "psi": psi_from_counts(ref_counts, cur_counts, cfg.epsilon),
        "chi2": chi2_pvalue(ref_counts, cur_counts),
        "js": js_distance(ref_counts, cur_counts),
    }


def column_drift(name: str, reference: pd.Series, current: pd.Series, kind: Kind, cfg: MonitorConfig) -> ColumnDrift:
    stats = statistics(reference, current, kind, cfg)
    gate: Statistic = cfg.gate.numeric if kind == "numeric" else cfg.gate.categorical
    value, threshold = stats[gate], cfg.thresholds.of(gate)
    drifted = value < threshold if gate in P_VALUES else value > threshold
    return ColumnDrift(name, kind, gate, value, threshold, bool(drifted), stats)


def kind_of(series: pd.Series) -> Kind:
    return "numeric" if column_kind(series) in ("int", "float", "datetime") else "categorical"


def column_kinds(reference: pd.DataFrame, schema: InputSchema | None = None) -> dict[str, Kind]:
    """The columns to compare and their kinds: the model's feature columns by their declared
    kind when a model is known (ids and times are not features), else every column by dtype."""
    if schema is not None:
        return {c.name: "numeric" if c.dtype in ("int", "float", "datetime") else "categorical" for c in schema.features}
    return {str(name): kind_of(reference[name]) for name in reference.columns}


def drift_report(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    kinds: Mapping[str, Kind],
    cfg: MonitorConfig,
    predictions: tuple[pd.Series, pd.Series] | None = None,
) -> DriftReport:
    """Every column of ``kinds`` compared between ``reference`` and ``current``, and the
    predictions (reference's, current's) when given. A column absent from one side is skipped
    and listed; too few rows is an error (a small sample drifts by chance)."""
    for side, frame in (("--reference", reference), ("--current", current)):
        if len(frame) < cfg.min_rows:
            raise MMPError(side, f"has {len(frame)} rows, too few to judge drift", f"at least monitor.min_rows={cfg.min_rows}")
    skipped = {
        name: f"not in the {where} data"
        for name in kinds
        for where, frame in (("current", current), ("reference", reference))
        if name not in frame
    }
    compared = [name for name in kinds if name not in skipped]
    if not compared:
        raise MMPError("--current", "shares no column with the reference", ", ".join(list(kinds)[:10]) or "the reference's columns")
    columns = [column_drift(name, reference[name], current[name], kinds[name], cfg) for name in compared]
    prediction = None
    if predictions is not None:
        ref_pred, cur_pred = predictions
        prediction = column_drift("prediction", ref_pred, cur_pred, kind_of(ref_pred), cfg)
    return DriftReport(columns, prediction, len(reference), len(current), skipped)
