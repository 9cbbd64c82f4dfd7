"""The data quality report of the prepared splits: a per-column profile (type, missing rate,
distinct count, range, histogram), the target's balance, leakage checks and, when the recipe
names a time column, its consistency. Pure pandas/numpy: the figures and the HTML page are
drawn from the report by ``mmp.pipeline.quality_report``.

Leakage checks (``data.quality``):
- one feature alone predicts the target almost perfectly: a one-feature ROC AUC (classification,
  the mean over classes one-vs-rest for multiclass) or |Spearman rho| (regression) above
  ``max_single_feature_score``, scored on the test split (categories encoded by their train
  target means, so the score is an honest held-out one);
- an id-like feature: an integer or text column whose values are nearly all distinct;
- a time column whose order contradicts the split: test rows older than the newest train row.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from mmp.core.config import DataConfig, task_kind
from mmp.core.errors import MMPError

MIN_ROWS_FOR_ID_CHECK = 20  # fewer rows are all distinct by chance
# Past this many rows, the histograms and the one-feature leakage scores are computed on a seeded
# sample of this many rows (of the column; of each split): their shape or an AUC (standard error
# about 0.001) is as good from it as from millions, at a bounded cost. The figures that count
# rows (missing rates, distinct counts, ranges, class balance, the id-like share) stay exact.
SAMPLE_ROWS = 200_000
SAMPLE_SEED = 0
LEAKAGE_FIX = (
    "drop the column from the source, declare it in data.id_cols, list it in data.quality.allow, or set data.quality.fail_on_leakage=false"
)
TIME_FIX = "split by time, list the column in data.quality.allow, or set data.quality.fail_on_leakage=false"


@dataclass(frozen=True)
class Finding:
    """One thing the report found. ``leakage`` findings become errors under
    ``data.quality.fail_on_leakage`` (unless the column is in ``data.quality.allow``)."""

    check: str
    column: str
    rule: str
    leakage: bool

    def error(self) -> MMPError:
        return MMPError(f"column {self.column!r}", f"{self.check}: {self.rule}", TIME_FIX if self.check == "time_order" else LEAKAGE_FIX)

    def to_json(self) -> dict[str, Any]:
        return {"check": self.check, "column": self.column, "rule": self.rule, "leakage": self.leakage}


def _round(value: Any) -> Any:
    if isinstance(value, float | np.floating):
        return None if np.isnan(value) else round(float(value), 6)
    if isinstance(value, np.integer | np.bool_):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


def column_kind(series: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(series):
        return "bool"
    if pd.api.types.is_datetime64_any_dtype(series):
        return "datetime"
    if pd.api.types.is_numeric_dtype(series):
        return "numeric"
    return "categorical"


def sampled(rows: Any) -> Any:
    """``rows`` (a frame or a column) as they are, or a seeded sample of ``SAMPLE_ROWS`` of them:
    the rows ``rows.sample(n=SAMPLE_ROWS, random_state=SAMPLE_SEED)`` picks."""
    return rows if len(rows) <= SAMPLE_ROWS else rows.iloc[_sample_positions(len(rows), SAMPLE_ROWS)]


@lru_cache(maxsize=4)
def _sample_positions(length: int, n: int) -> np.ndarray:
    # The seeded draw depends on the length only, so every column of a frame shares it: drawn
    # once, not once per column (a permutation of all the rows each: 0.9 s of prepare at 2M).
    return pd.RangeIndex(length).to_series().sample(n=n, random_state=SAMPLE_SEED).to_numpy()


def histogram(series: pd.Series, bins: int) -> dict[str, list[Any]]:
    """Counts over ``bins`` equal-width bins (numeric), or of the ``bins`` most frequent values
    (anything else; the rest counted as ``(other)``). Missing values are left out."""
    values = series.dropna()
    if column_kind(series) == "numeric" and len(values):
        counts, edges = np.histogram(values.to_numpy(dtype=float), bins=bins)
        return {"edges": [_round(e) for e in edges], "counts": counts.tolist()}
    if column_kind(series) == "datetime" and len(values):
        # In seconds: nanoseconds since 1970 are too coarse as floats to split a one-day range
        # (a daily batch's time column holds one date) into bins.
        counts, edges = np.histogram(values.astype("int64").to_numpy() / 1e9, bins=bins)
        return {"edges": [pd.Timestamp(round(e * 1e9)).isoformat() for e in edges], "counts": counts.tolist()}
    top = values.astype(str).value_counts()
    labels, counts_list = top.index[:bins].tolist(), top.iloc[:bins].tolist()
    if len(top) > bins:
        labels.append("(other)")
        counts_list.append(int(top.iloc[bins:].sum()))
    return {"values": labels, "counts": [int(c) for c in counts_list]}


def column_profile(series: pd.Series, bins: int) -> dict[str, Any]:
    kind = column_kind(series)
    present = series.dropna()
    profile: dict[str, Any] = {
        "type": kind,
        "dtype": str(series.dtype),
        "missing_rate": _round(float(series.isna().mean())) if len(series) else 0.0,
        "distinct": int(present.nunique()),
    }
    if kind in ("numeric", "datetime") and len(present):
        profile["min"], profile["max"] = _round(present.min()), _round(present.max())
    profile["histogram"] = histogram(sampled(series), bins)
    return profile


def target_balance(full: pd.DataFrame, data: DataConfig) -> dict[str, Any]:
    if task_kind(data.task_type) == "classification":
        balance = full[data.targets[0]].value_counts(normalize=True).sort_index()
        return {"balance": {str(k): _round(float(v)) for k, v in balance.items()}}
    return {t: {"mean": _round(float(full[t].mean())), "std": _round(float(full[t].std()))} for t in data.targets}


def _encoded(train: pd.Series, test: pd.Series, y_train: pd.Series) -> pd.Series:
    """``test`` as numbers: numeric columns as they are (missing below the minimum, since being
    missing can itself leak), anything else by its category's train mean of ``y_train``."""
    if column_kind(test) in ("numeric", "bool", "datetime"):
        numbers = (test - pd.Timestamp(0)).dt.total_seconds() if column_kind(test) == "datetime" else test.astype(float)
        floor = numbers.min() - 1 if numbers.notna().any() else 0.0
        return numbers.fillna(floor).astype(float)
    means = y_train.groupby(train.astype(str).fillna("(missing)")).mean()
    return test.astype(str).fillna("(missing)").map(means).fillna(float(y_train.mean())).astype(float)


def roc_auc(hit: pd.Series, score: pd.Series) -> float:
    """ROC AUC of ``score`` for the 0/1 labels ``hit`` (both classes present) as the Mann-Whitney
    statistic: the share of (positive, negative) pairs the score orders rightly, a tie counting
    half. The value scikit-learn's ``roc_auc_score`` gives, without importing scikit-learn (1.2 s
    of every prepare run)."""
    ranks = score.rank(method="average").to_numpy()
    positive = hit.to_numpy() == 1
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def single_feature_score(train: pd.DataFrame, test: pd.DataFrame, column: str, data: DataConfig) -> float | None:
    """How well ``column`` alone predicts the target on the test split: ROC AUC (the mean over
    classes, one-vs-rest, for multiclass; a feature inversely related counts as much) or
    |Spearman rho| for regression (the largest over targets). None when undefined (one class)."""
    scores: list[float] = []
    if task_kind(data.task_type) == "regression":
        for t in data.targets:
            x = _encoded(train[column], test[column], train[t].astype(float))
            rho = x.corr(test[t].astype(float), method="spearman")
            scores.extend([abs(float(rho))] if pd.notna(rho) else [])
        return max(scores) if scores else None
    y_train, y_test = train[data.targets[0]], test[data.targets[0]]
    classes = sorted(y_test.unique().tolist())
    for cls in classes[-1:] if len(classes) == 2 else classes:
        hit = (y_test == cls).astype(int)
        if hit.nunique() < 2:
            continue
        x = _encoded(train[column], test[column], (y_train == cls).astype(float))
        auc = roc_auc(hit, x)
        scores.append(max(auc, 1 - auc))
    return float(np.mean(scores)) if scores else None


def is_id_like(series: pd.Series, share: float) -> bool:
    """An integer or text column whose present values are nearly all distinct (floats are
    continuous, so distinct by nature, and are left out)."""
    integer = pd.api.types.is_integer_dtype(series) and not pd.api.types.is_bool_dtype(series)
    if not (integer or column_kind(series) == "categorical"):
        return False  # decided by the dtype: no pass over the values (floats are most columns)
    present = int(series.notna().sum())
    return present >= MIN_ROWS_FOR_ID_CHECK and series.nunique() / present >= share


def leakage(train: pd.DataFrame, test: pd.DataFrame, full: pd.DataFrame, data: DataConfig) -> tuple[dict[str, Any], list[Finding]]:
    """One-feature scores on the test split (a seeded sample of each side) and id-like columns
    of ``full`` (train and test together)."""
    rules = data.quality
    features = [c for c in train.columns if c not in data.non_feature_cols]
    train_rows, test_rows = sampled(train), sampled(test)
    scores = {c: single_feature_score(train_rows, test_rows, c, data) for c in features}
    findings = []
    name = "|Spearman rho|" if task_kind(data.task_type) == "regression" else "AUC"
    for col, score in scores.items():
        if score is not None and score > rules.max_single_feature_score:
            rule = f"one-feature {name} {score:.3f} > {rules.max_single_feature_score:g} (data.quality.max_single_feature_score)"
            findings.append(Finding("single_feature", col, rule, True))
    for col in features:
        if is_id_like(full[col], rules.id_like_share):
            share = full[col].nunique() / full[col].notna().sum()
            rule = f"id-like: {share:.1%} of its values are distinct (data.quality.id_like_share {rules.id_like_share:g})"
            findings.append(Finding("id_like", col, rule, True))
    section = {"single_feature_score": {"metric": name, "scores": {c: _round(s) for c, s in scores.items()}}}
    return section, findings


def _period(span: pd.Timedelta) -> str:
    return "M" if span >= pd.Timedelta(days=90) else "W" if span >= pd.Timedelta(days=14) else "D"


def time_consistency(train: pd.DataFrame, test: pd.DataFrame, full: pd.DataFrame, data: DataConfig) -> tuple[dict[str, Any], list[Finding]]:
    """The time column against the split (test rows older than the newest train row mean the
    model trains on the future of what it is tested on), its missing values, empty periods
    between its first and last value, and rows and the target's mean per period. ``full`` is
    train and test together, in that order."""
    col = data.time_col
    if not col or col not in train:
        return {}, []
    times = {side: pd.to_datetime(frame[col], errors="coerce") for side, frame in (("train", train), ("test", test))}
    stamp = pd.concat([times["train"], times["test"]], ignore_index=True)
    findings = []
    section: dict[str, Any] = {"column": col, "missing": int(stamp.isna().sum())}
    if section["missing"]:
        findings.append(Finding("time_missing", col, f"{section['missing']} row(s) have no valid time", False))
    if stamp.notna().sum() == 0:
        return section, findings
    for side, values in times.items():
        section[side] = {"min": _round(values.min()), "max": _round(values.max())}
    older = float((times["test"] < times["train"].max()).mean()) if times["train"].notna().any() else 0.0
    section["test_older_than_train_max"] = _round(older)
    limit = data.quality.max_time_overlap
    if older > limit:
        rule = f"{older:.1%} of test rows are older than the newest train row (data.quality.max_time_overlap {limit:g}): the model trains on the future"
        findings.append(Finding("time_order", col, rule, True))
    freq = _period(stamp.max() - stamp.min())
    periods = stamp.dt.to_period(freq)
    every = pd.period_range(periods.min(), periods.max(), freq=freq)
    rows = periods.value_counts().reindex(every, fill_value=0)
    section["periods"] = {"freq": freq, "labels": [str(p) for p in every], "rows": rows.astype(int).tolist()}
    target = data.targets[0]
    if pd.api.types.is_numeric_dtype(full[target]) or pd.api.types.is_bool_dtype(full[target]):
        mean = full[target].astype(float).groupby(periods).mean().reindex(every)
        section["periods"]["target_mean"] = [_round(v) for v in mean.tolist()]
    empty = int((rows == 0).sum())
    if empty:
        findings.append(
            Finding("time_gaps", col, f"{empty} of {len(every)} periods ({freq}) between its first and last value have no rows", False)
        )
    return section, findings


def quality_report(train: pd.DataFrame, test: pd.DataFrame, data: DataConfig) -> dict[str, Any]:
    """The whole report, JSON-ready. ``findings`` lists every warning; each leakage finding is
    marked ``error`` when ``data.quality.fail_on_leakage`` holds and its column is not allowed."""
    full = pd.concat([train, test], ignore_index=True)  # once: every check below reads it
    bins = data.quality.bins
    leak, leak_findings = leakage(train, test, full, data)
    time, time_findings = time_consistency(train, test, full, data)
    findings = [{**f.to_json(), "severity": "error" if is_error(f, data) else "warning"} for f in [*leak_findings, *time_findings]]
    return {
        "rows": {"train": len(train), "test": len(test)},
        "columns": {str(c): column_profile(full[c], bins) for c in full.columns},
        "roles": {"target": data.targets, "id": data.id_cols, "time": data.time_col},
        "target": target_balance(full, data),
        "leakage": leak,
        "time": time,
        "findings": findings,
    }


def is_error(finding: Finding, data: DataConfig) -> bool:
    return finding.leakage and data.quality.fail_on_leakage and finding.column not in data.quality.allow


def errors(report: dict[str, Any]) -> list[MMPError]:
    """The report's leakage findings that are errors (``data.quality.fail_on_leakage``)."""
    return [Finding(f["check"], f["column"], f["rule"], f["leakage"]).error() for f in report["findings"] if f["severity"] == "error"]


def warning_lines(report: dict[str, Any]) -> list[str]:
    """One line per warning, for the stage's output."""
    return [
        f"warning: data quality: column {f['column']!r}: {f['check']}: {f['rule']}"
        for f in report["findings"]
        if f["severity"] == "warning"
    ]


def data_profile(report: dict[str, Any]) -> dict[str, Any]:
    """The report's per-column numbers for metrics/data_profile.json: a plain, git-kept output
    (not a DVC metrics file: one figure per source column would flood `dvc exp show`), compared
    by `mmp report` between revisions. Missing rates where above zero, distinct counts, and the
    number of findings."""
    columns = report["columns"]
    return {
        "missing_rate": {c: p["missing_rate"] for c, p in columns.items() if p["missing_rate"]},
        "distinct": {c: p["distinct"] for c, p in columns.items()},
        "findings": {
            "leakage": sum(1 for f in report["findings"] if f["leakage"]),
            "other": sum(1 for f in report["findings"] if not f["leakage"]),
        },
    }
