"""A Gaussian copula of a table, written on numpy/scipy: the "distribution model" of the daily
synthetic source (SDV and its ``copulas`` package are under the Business Source License).

Fit: every column gets an empirical marginal and a normal score. A continuous number keeps 257
quantiles and its score is ``ndtri(rank / (n + 1))``; a number with few distinct values
(``discrete``, in value order) and a category (``categorical``, most frequent first) keep their
values and probabilities, and a row's score is a random point of its value's slice of the unit
interval, mapped through ``ndtri``, so categories sit in the same latent normal as the numbers
and stay correlated with them. The normal scores' correlation matrix (pairwise over non-missing
rows, made positive definite) ties the columns together; the target is one more column, so the
features-to-label relation is sampled jointly. Missing rates are kept per column. Dates become
days before the time column (or since 1970 without one); the time column itself is set to the
sampled day and id columns are numbered per day (unique across days).

Sample: draw the latent normal, apply the drift knobs (:mod:`mmp.data.knobs`), map each column
back through its marginal. The artifact is JSON with a SHA-256 of its content: its version.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from mmp.core.errors import MMPError
from mmp.core.io import atomic_path
from mmp.core.parsing import Strict, parse
from mmp.data.knobs import DriftKnobs

FORMAT = 1
QUANTILES = 257
DISCRETE_MAX = 25  # a number with at most this many distinct values is sampled as its values
EPS = 1e-6  # keeps normal scores finite
CALIBRATION = 3  # rounds of matching the sampled scores' correlations to the data's
CLASS_ROWS = 20  # fewest rows of a class for a copula of its own
Kind = Literal["continuous", "discrete", "categorical"]
Value = str | int | float | bool


class Marginal(Strict):
    name: str
    kind: Kind
    dtype: str  # the pandas dtype the column is restored to
    missing: float = Field(ge=0, le=1)
    quantiles: list[float] = Field(default_factory=list)  # continuous: values at QUANTILES even steps
    integer: bool = False  # continuous: round to whole numbers
    values: list[Value] = Field(default_factory=list)  # discrete/categorical, in latent order
    probs: list[float] = Field(default_factory=list)
    days_before: str | None = None  # a date column: stored as days before this column (the time column)


class Component(Strict):
    """One Gaussian copula: its share of the rows, the columns' marginals and the latent correlation."""

    weight: float = Field(gt=0, le=1)
    marginals: list[Marginal]  # the modelled columns (not the time column, not the ids)
    correlation: list[list[float]]


class CopulaModel(Strict):
    format: Literal[1] = FORMAT
    rows: int  # training rows it was fitted on
    columns: list[str]  # every column of the training frame, in order
    components: list[Component]  # one copula of all rows, or one per class of the target (by_class)
    by_class: bool = False
    label: Marginal | None = None  # the target over all rows: what label_shift draws from
    target: str | None = None
    time_col: str | None = None
    id_cols: dict[str, str] = Field(default_factory=dict)  # name -> dtype

    @property
    def names(self) -> list[str]:
        return [m.name for m in self.components[0].marginals]

    @property
    def hash(self) -> str:
        return content_hash(self)


# -- fit ---------------------------------------------------------------------------------------


def fit(
    frame: pd.DataFrame,
    *,
    target: str | None = None,
    time_col: str | None = None,
    id_cols: tuple[str, ...] = (),
    by_class: bool | None = None,
    seed: int = 0,
) -> CopulaModel:
    """The copula of ``frame`` (``seed`` places the categories' normal scores in their slices).
    ``by_class``: one copula per class of a discrete target, mixed by the classes' shares (the
    default when every class has CLASS_ROWS rows): a class's rows keep their own marginals, so
    the features-to-label relation survives beyond what one correlation matrix can hold."""
    for key, name in [("target", target), ("time_col", time_col), *(("id_cols", c) for c in id_cols)]:
        if name is not None and name not in frame.columns:
            raise MMPError(key, f"column {name!r} is not in the data", ", ".join(map(str, frame.columns)))
    if len(frame) < 2:
        raise MMPError("data", f"has {len(frame)} rows, too few to fit a distribution", "at least 2 rows")
    rng = np.random.default_rng(seed)
    modelled = [str(c) for c in frame.columns if c != time_col and c not in id_cols]
    label = _marginal(target, frame[target], str(frame[target].dtype), None, None) if target else None
    groups = _groups(frame, target, label, by_class)
    components = [_component(part, weight, modelled, target, time_col, rng) for weight, part in groups]
    return CopulaModel(
        rows=len(frame),
        columns=[str(c) for c in frame.columns],
        components=components,
        by_class=len(groups) > 1 or by_class is True,
        label=label,
        target=target,
        time_col=time_col,
        id_cols={c: str(frame[c].dtype) for c in id_cols},
    )


def _groups(frame: pd.DataFrame, target: str | None, label: Marginal | None, by_class: bool | None) -> list[tuple[float, pd.DataFrame]]:
    """The rows of each component with its weight: all rows, or each class of the target."""
    if target is None or label is None or by_class is False:
        if by_class:
            raise MMPError("--by-class", "needs a target column", "--target NAME")
        return [(1.0, frame)]
    smallest = min((int((frame[target] == v).sum()), v) for v in label.values) if label.kind != "continuous" else (0, None)
    if smallest[0] < CLASS_ROWS:
        if by_class:
            why = "a continuous target has no classes" if label.kind == "continuous" else f"class {smallest[1]!r} has {smallest[0]} rows"
            raise MMPError("--by-class", why, f"a discrete target with at least {CLASS_ROWS} rows per class")
        return [(1.0, frame)]
    present = frame[frame[target].notna()]
    return [(round(len(part) / len(present), 12), part) for v in label.values if len(part := present[present[target] == v])]


def _component(
    frame: pd.DataFrame, weight: float, modelled: list[str], target: str | None, time_col: str | None, rng: np.random.Generator
) -> Component:
    times = frame[time_col] if time_col else None
    label = _numeric_label(frame, target)
    marginals, scores, middles = [], [], []
    for name in modelled:
        values, days_before = _as_values(frame[name], times, time_col)
        marginal = _marginal(name, values, str(frame[name].dtype), days_before, label)
        marginals.append(marginal)
        scores.append(_scores(marginal, values, rng))
        middles.append(_scores(marginal, values, None))
    correlation = _calibrated(_correlation(scores), _correlation(middles), marginals, len(frame), rng)
    return Component(weight=weight, marginals=marginals, correlation=np.round(correlation, 12).tolist())


def _numeric_label(frame: pd.DataFrame, target: str | None) -> pd.Series | None:
    if target is None or not pd.api.types.is_numeric_dtype(frame[target]) or pd.api.types.is_bool_dtype(frame[target]):
        return None
    return frame[target].astype(float)


def _as_values(series: pd.Series, times: pd.Series | None, time_col: str | None) -> tuple[pd.Series, str | None]:
    """Dates as days (before the time column when there is one), everything else unchanged."""
    if not pd.api.types.is_datetime64_any_dtype(series):
        return series, None
    if times is not None and pd.api.types.is_datetime64_any_dtype(times):
        return (times - series) / pd.Timedelta(days=1), time_col
    return (series - pd.Timestamp(0)) / pd.Timedelta(days=1), None


def _marginal(name: str, values: pd.Series, dtype: str, days_before: str | None, label: pd.Series | None) -> Marginal:
    present = values.dropna()
    missing = round(1 - len(present) / max(len(values), 1), 12)
    numeric = pd.api.types.is_numeric_dtype(present) and not pd.api.types.is_bool_dtype(present)
    if numeric and present.nunique() > DISCRETE_MAX:
        numbers = present.to_numpy(dtype=float)
        quantiles = np.quantile(numbers, np.linspace(0, 1, QUANTILES))
        integer = bool(np.all(numbers == np.round(numbers)))
        return Marginal(
            name=name,
            kind="continuous",
            dtype=dtype,
            missing=missing,
            quantiles=quantiles.tolist(),
            integer=integer,
            days_before=days_before,
        )
    counts = present.value_counts()
    if numeric or pd.api.types.is_bool_dtype(present):
        counts, kind = counts.sort_index(), "discrete"
    else:
        counts, kind = _category_order(counts, present, label), "categorical"
    values_ = [v.item() if hasattr(v, "item") else v for v in counts.index]
    probs = (counts / counts.sum()).round(12).tolist() if len(counts) else []
    return Marginal(name=name, kind=kind, dtype=dtype, missing=missing, values=values_, probs=probs, days_before=days_before)


def _category_order(counts: pd.Series, present: pd.Series, label: pd.Series | None) -> pd.Series:
    """Categories by frequency, most frequent first (ties by name); with a numeric label, by
    the label's mean in the category instead, so that a category's effect on the label is a
    monotone one the latent normal can carry (``unemployed`` next to ``student``, not to
    ``salaried``)."""
    counts = counts.sort_index(key=lambda i: i.astype(str)).sort_values(ascending=False, kind="stable")
    if label is None:
        return counts
    means = label.loc[present.index].groupby(present.astype(object).to_numpy()).mean()
    return counts.iloc[np.argsort(means.reindex(counts.index).to_numpy(), kind="stable")]


def _scores(m: Marginal, values: pd.Series, rng: np.random.Generator | None) -> np.ndarray:
    """Normal scores of a column (NaN where missing or unseen): ranks for a continuous column,
    a random point of the value's slice (``rng``) or its middle (no ``rng``) otherwise."""
    if m.kind == "continuous":
        numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        if rng is not None:
            from scipy.stats import rankdata

            u = rankdata(numbers, nan_policy="omit") / (np.sum(~np.isnan(numbers)) + 1)
        else:
            u = np.interp(numbers, m.quantiles, np.linspace(0, 1, QUANTILES))
        return _ndtri(u)
    low, high = _slices(m.probs)
    pos = _positions(m, values)
    known = pos >= 0
    share = rng.random(len(values)) if rng is not None else np.full(len(values), 0.5)
    u = np.where(known, low[pos] + share * (high[pos] - low[pos]), np.nan)
    return _ndtri(u)


def _positions(m: Marginal, values: pd.Series) -> np.ndarray:
    """Each row's index in ``m.values`` (-1: missing or never seen); 12 and 12.0 are one value."""
    if m.kind == "discrete" and not all(isinstance(v, bool) for v in m.values):
        return pd.Index(np.asarray(m.values, dtype=float)).get_indexer(pd.to_numeric(values, errors="coerce").to_numpy(dtype=float))
    return pd.Index(np.asarray(m.values, dtype=object)).get_indexer(values.to_numpy(dtype=object))


def _slices(probs: list[float], shift: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Each value's slice [low, high) of the unit interval; ``shift`` moves that share of the
    mass to the rarest value."""
    p = np.asarray(probs, dtype=float)
    if shift and len(p):
        rarest = int(np.argmin(p))
        p = p * (1 - shift)
        p[rarest] += shift
    high = np.cumsum(p)
    if len(high):
        high[-1] = 1.0
    return high - p, high


def _ndtri(u: np.ndarray) -> np.ndarray:
    from scipy.special import ndtri

    return ndtri(np.clip(u, EPS, 1 - EPS))


def _correlation(scores: list[np.ndarray]) -> np.ndarray:
    return pd.DataFrame(np.column_stack(scores)).corr(min_periods=2).to_numpy()


def _calibrated(jittered: np.ndarray, middles: np.ndarray, marginals: list[Marginal], rows: int, rng: np.random.Generator) -> np.ndarray:
    """The latent correlation whose samples show the data's correlations: a first guess from
    the jittered scores (:func:`_disattenuated`), then CALIBRATION rounds that sample ``rows``
    rows, score them by their slices' middles (as :func:`fidelity` does) and move the guess by
    what is still off from the data's ``middles`` correlations."""
    target = np.nan_to_num(middles, nan=0.0)
    latent = _positive_definite(_disattenuated(jittered, marginals))
    for _ in range(CALIBRATION):
        u = _cdf(rng.standard_normal((rows, len(marginals))) @ np.linalg.cholesky(latent).T)
        seen = _correlation([_scores(m, _inverse(m, u[:, j], 0.0), None) for j, m in enumerate(marginals)])
        latent = _positive_definite(np.clip(latent + target - np.nan_to_num(seen, nan=0.0), -0.999, 0.999))
    return latent


def _disattenuated(observed: np.ndarray, marginals: list[Marginal]) -> np.ndarray:
    """The latent correlations behind the observed ones. A discrete column's score is a random
    point of its slice, which holds only the slice's share of the latent value: its covariance
    with any other score shrinks by ``sum(p * E[z | slice]^2)`` (1 for a continuous column).
    Dividing it out keeps a 90/10 label as correlated with its features as in the data."""
    from scipy.special import ndtri
    from scipy.stats import norm

    factors = np.ones(len(marginals))
    for j, m in enumerate(marginals):
        if m.kind != "continuous" and len(m.probs) > 1:
            low, high = _slices(m.probs)
            p = np.maximum(high - low, 1e-12)
            means = (norm.pdf(ndtri(low)) - norm.pdf(ndtri(high))) / p
            factors[j] = max(float(np.sum(p * means**2)), 1e-3)
    corrected = observed / np.outer(factors, factors)
    np.fill_diagonal(corrected, 1.0)
    return np.clip(corrected, -0.999, 0.999)


def _positive_definite(corr: np.ndarray) -> np.ndarray:
    """A pairwise correlation matrix made a valid one: undefined entries 0, eigenvalues at
    least 1e-6, unit diagonal."""
    corr = np.nan_to_num((corr + corr.T) / 2, nan=0.0)
    np.fill_diagonal(corr, 1.0)
    vals, vecs = np.linalg.eigh(corr)
    fixed = vecs @ np.diag(np.maximum(vals, 1e-6)) @ vecs.T
    scale = np.sqrt(np.diag(fixed))
    return fixed / np.outer(scale, scale)


# -- sample ------------------------------------------------------------------------------------


def sample(model: CopulaModel, rows: int, day: date, *, knobs: DriftKnobs | None = None, seed: int = 0) -> pd.DataFrame:
    """``rows`` rows of ``day`` (same model, day, knobs and seed: the same rows). Every random
    draw is made whatever the knobs, so the same day with other knobs differs by the knobs alone."""
    knobs = knobs or DriftKnobs()
    unknown = knobs.unknown_columns(model.names)
    if unknown:
        raise MMPError(f"knobs.{unknown[0]}", "names a column the distribution model does not have", ", ".join(model.names))
    rng = np.random.default_rng([seed, day.toordinal()])
    counts = rng.multinomial(rows, np.array([c.weight for c in model.components]) / sum(c.weight for c in model.components))
    parts = [
        _sample_component(c, int(n), knobs, model.target, np.random.default_rng([seed, day.toordinal(), i]))
        for i, (c, n) in enumerate(zip(model.components, counts, strict=True))
    ]
    order = rng.permutation(rows)
    columns = {
        name: pd.concat([part[name] for part in parts], ignore_index=True).iloc[order].reset_index(drop=True) for name in model.names
    }
    scrambled, scramble_u = rng.random(rows), rng.random(rows)
    if model.target is not None and model.label is not None:
        drawn = _inverse(model.label, scramble_u, 0.0)
        columns[model.target] = columns[model.target].where(scrambled >= knobs.label(model.target), drawn)
    return _restore(model, columns, rows, day)


def _sample_component(c: Component, rows: int, knobs: DriftKnobs, target: str | None, rng: np.random.Generator) -> dict[str, pd.Series]:
    names = [m.name for m in c.marginals]
    latent = rng.standard_normal((rows, len(names))) @ np.linalg.cholesky(_shrunk(c, names, knobs, target)).T
    missing = rng.random((rows, len(names)))
    shift = np.array([knobs.of("mean_shift", n, is_target=n == target) for n in names])
    u = _cdf(latent + shift)
    columns = {}
    for j, m in enumerate(c.marginals):
        category_shift = knobs.of("category_shift", m.name, is_target=m.name == target) if m.kind == "categorical" else 0.0
        columns[m.name] = _inverse(m, u[:, j], category_shift).mask(missing[:, j] < m.missing)
    return columns


def _shrunk(c: Component, names: list[str], knobs: DriftKnobs, target: str | None) -> np.ndarray:
    """The correlation matrix with each column's correlations scaled by 1 - correlation_shift
    (D R D + I - D^2: still a correlation matrix)."""
    corr = np.asarray(c.correlation)
    keep = np.array([1 - knobs.of("correlation_shift", n, is_target=n == target) for n in names])
    return np.outer(keep, keep) * corr + np.diag(1 - keep**2)


def _cdf(z: np.ndarray) -> np.ndarray:
    from scipy.special import ndtr

    return ndtr(z)


def _inverse(m: Marginal, u: np.ndarray, category_shift: float) -> pd.Series:
    if m.kind == "continuous":
        numbers = np.interp(u, np.linspace(0, 1, QUANTILES), m.quantiles)
        return pd.Series(np.round(numbers) if m.integer else numbers)
    if not m.values:  # never observed a value: all missing
        return pd.Series(np.full(len(u), np.nan))
    _, high = _slices(m.probs, category_shift)
    index = np.minimum(np.searchsorted(high, u, side="right"), len(m.values) - 1)
    return pd.Series(np.asarray(m.values, dtype=object)[index])


def _restore(model: CopulaModel, columns: dict[str, Any], rows: int, day: date) -> pd.DataFrame:
    stamp = pd.Timestamp(day)
    if model.time_col:
        columns[model.time_col] = pd.Series(np.full(rows, stamp.to_datetime64()), dtype="datetime64[ns]")
    for name, dtype in model.id_cols.items():
        numbers = day.toordinal() * 1_000_000 + np.arange(1, rows + 1, dtype="int64")
        columns[name] = pd.Series(numbers) if "int" in dtype.lower() else pd.Series([f"{day:%Y%m%d}-{n:06d}" for n in range(1, rows + 1)])
    for m in model.components[0].marginals:
        columns[m.name] = _typed(m, columns[m.name], stamp)
    return pd.DataFrame({name: columns[name] for name in model.columns})


def _typed(m: Marginal, values: pd.Series, stamp: pd.Timestamp) -> pd.Series:
    if m.dtype.startswith("datetime"):
        days = pd.to_numeric(values, errors="coerce")
        origin = stamp if m.days_before else pd.Timestamp(0)
        sign = -1 if m.days_before else 1
        return (origin + sign * pd.to_timedelta(days, unit="D")).astype("datetime64[ns]")
    if m.kind == "categorical" and not pd.api.types.is_bool_dtype(m.dtype):
        return values.astype(object).where(values.notna(), None).astype(m.dtype)
    if values.isna().any() and ("int" in m.dtype.lower() or m.dtype == "bool"):
        return pd.to_numeric(values, errors="coerce").astype("float64")  # as pandas holds a number column with gaps
    return values.astype(m.dtype)


# -- the artifact ------------------------------------------------------------------------------


def content_hash(model: CopulaModel) -> str:
    return hashlib.sha256(_canonical(model).encode()).hexdigest()


def _canonical(model: CopulaModel) -> str:
    return json.dumps(model.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))


def save(model: CopulaModel, path: str | Path) -> str:
    """Write ``model`` as JSON with its content hash (written whole or not at all); returns the hash."""
    digest = content_hash(model)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps({"sha256": digest, "model": model.model_dump(mode="json")}, sort_keys=True, indent=1) + "\n")
    return digest


def load(path: str | Path) -> CopulaModel:
    """The model saved at ``path``; one error line if it is missing, not ours, or edited."""
    file = Path(path)
    key = str(file)
    if not file.is_file():
        raise MMPError(key, "no distribution model here", "a copula.json written by `mmp synth fit --output DIR`")
    try:
        raw = json.loads(file.read_text())
    except json.JSONDecodeError as err:
        raise MMPError(key, f"is not JSON: {err}") from None
    if not isinstance(raw, dict) or set(raw) != {"sha256", "model"}:
        raise MMPError(key, "is not a distribution model", "a copula.json written by `mmp synth fit --output DIR`")
    model = parse(CopulaModel, raw["model"], "model", source=key)
    if content_hash(model) != raw["sha256"]:
        raise MMPError(key, "content does not match its sha256: the file was edited or damaged", "refit it with `mmp synth fit`")
    return model


# -- fidelity ----------------------------------------------------------------------------------


class ColumnFidelity(Strict):
    column: str
    statistic: Literal["ks", "tvd"]  # numbers: the two-sample KS statistic; categories: total variation distance
    value: float


class Fidelity(Strict):
    """How close ``synthetic`` is to ``real``: 0 is identical on every measure."""

    columns: list[ColumnFidelity]
    correlation_distance: float  # RMS difference of the normal-score correlations over column pairs (0..2)
    names: list[str]
    real_correlation: list[list[float]]
    synthetic_correlation: list[list[float]]
    real_rows: int
    synthetic_rows: int

    @property
    def worst(self) -> ColumnFidelity:
        return max(self.columns, key=lambda c: c.value)

    def summary(self) -> str:
        return (
            f"fidelity: worst column {self.worst.column} ({self.worst.statistic} {self.worst.value:.3f}), "
            f"correlation distance {self.correlation_distance:.3f} ({self.real_rows} real rows, {self.synthetic_rows} synthetic)"
        )


def fidelity(real: pd.DataFrame, synthetic: pd.DataFrame, model: CopulaModel | None = None) -> Fidelity:
    """Each modelled column's KS statistic (categories: total variation distance) and the
    distance between the two frames' normal-score correlation matrices, both frames scored on
    the marginals of ``real`` (the columns, target, time and id columns of ``model``; without
    one, every column of ``real``)."""
    names = model.names if model else [str(c) for c in real.columns]
    absent = [n for n in names if n not in synthetic.columns or n not in real.columns]
    if absent:
        raise MMPError("synthetic" if absent[0] in real.columns else "real", f"lacks column {absent[0]!r}", ", ".join(names))
    time_col = model.time_col if model else None
    marginals = _reference(real, names, model.target if model else None, time_col)
    frames = {"real": real, "synthetic": synthetic}
    values = {side: {m.name: _values_of(frame, m, time_col) for m in marginals} for side, frame in frames.items()}
    columns = [_column_fidelity(m, values["real"][m.name], values["synthetic"][m.name]) for m in marginals]
    corr = {side: _score_correlation(marginals, values[side]) for side in frames}
    d = len(marginals)
    distance = float(np.linalg.norm(corr["real"] - corr["synthetic"]) / np.sqrt(max(d * (d - 1), 1)))
    return Fidelity(
        columns=columns,
        correlation_distance=round(distance, 6),
        names=names,
        real_correlation=np.round(corr["real"], 6).tolist(),
        synthetic_correlation=np.round(corr["synthetic"], 6).tolist(),
        real_rows=len(real),
        synthetic_rows=len(synthetic),
    )


def _reference(real: pd.DataFrame, names: list[str], target: str | None, time_col: str | None) -> list[Marginal]:
    label = _numeric_label(real, target)
    marginals = []
    for name in names:
        values, days_before = _values_of(real, Marginal(name=name, kind="continuous", dtype="", missing=0), time_col), None
        if pd.api.types.is_datetime64_any_dtype(real[name]) and time_col in real:
            days_before = time_col
        marginals.append(_marginal(name, values, str(real[name].dtype), days_before, label))
    return marginals


def _values_of(frame: pd.DataFrame, m: Marginal, time_col: str | None) -> pd.Series:
    times = frame[time_col] if time_col and time_col in frame else None
    return _as_values(frame[m.name], times, time_col)[0]


def _column_fidelity(m: Marginal, real: pd.Series, synthetic: pd.Series) -> ColumnFidelity:
    if m.kind == "categorical":
        r, s = (v.astype(object).where(v.notna(), "(missing)").astype(str).value_counts(normalize=True) for v in (real, synthetic))
        tvd = 0.5 * float(r.sub(s, fill_value=0).abs().sum())
        return ColumnFidelity(column=m.name, statistic="tvd", value=round(tvd, 6))
    from scipy.stats import ks_2samp

    r, s = (pd.to_numeric(v, errors="coerce").dropna().to_numpy(dtype=float) for v in (real, synthetic))
    value = float(ks_2samp(r, s, method="asymp").statistic) if len(r) and len(s) else float(len(r) != len(s))
    return ColumnFidelity(column=m.name, statistic="ks", value=round(value, 6))


def _score_correlation(marginals: list[Marginal], values: dict[str, pd.Series]) -> np.ndarray:
    scores = np.column_stack([_scores(m, values[m.name], None) for m in marginals])
    corr = pd.DataFrame(scores).corr(min_periods=2).to_numpy()
    return np.nan_to_num(corr, nan=0.0)
