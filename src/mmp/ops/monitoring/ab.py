"""``mmp ab-report``: compare the variants on the labelled prediction log.

Two arms: the champion (rows logged with variant ``champion``) and the challenger (variant
``challenger``, plus ``shadow``: a shadow model's answers are scored on live traffic but not
returned, which makes them the challenger's offline answers on the same requests). Only rows
with a label (``mmp label``) count.

Per arm: the project's own metrics (``mmp.modeling.metrics``; classification when the log holds
``mmp_proba_<class>`` columns, else regression). The compared metric is one with a per-row value:
accuracy (classification) or mean absolute error (regression). Its difference (challenger -
champion) gets a seeded bootstrap 95% confidence interval and a significance test: the
two-proportion z-test for accuracy, a seeded permutation test for the absolute error.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mmp.core.errors import MMPError
from mmp.core.io import atomic_path, write_json
from mmp.data import prediction_log as L
from mmp.modeling.metrics import classification_metrics, predict_labels, regression_metrics

ARMS = {"champion": ("champion",), "challenger": ("challenger", "shadow")}
ALPHA = 0.05


@dataclass(frozen=True)
class Arm:
    name: str
    rows: int
    metrics: dict[str, float]
    per_row: np.ndarray  # the compared metric's value of each row (1/0 correct, or |error|)


def ab_report(log: pd.DataFrame, output: Path, seed: int = 0, threshold: float = 0.5, resamples: int = 2000) -> dict[str, Any]:
    """Compare the arms, write ab.json, ab.png and ab.md under ``output``; return the JSON."""
    if L.LABEL not in log.columns or log[L.LABEL].notna().sum() == 0:
        raise MMPError(L.LABEL, "the prediction log has no labelled rows", "join labels first: mmp label --input labels.parquet")
    labelled = log[log[L.LABEL].notna()]
    probas = [c for c in labelled.columns if c.startswith(L.PROBA_PREFIX)]
    arms = {name: arm(name, labelled[labelled[L.VARIANT].isin(variants)], probas, threshold) for name, variants in ARMS.items()}
    champion, challenger = arms["champion"], arms["challenger"]
    metric, higher_is_better = ("accuracy", True) if probas else ("mae", False)
    diff, low, high, boot = bootstrap_difference(champion.per_row, challenger.per_row, seed, resamples)
    test, p_value = significance(champion.per_row, challenger.per_row, bool(probas), seed, resamples)
    better = (diff > 0) == higher_is_better
    report = {
        "metric": metric,
        "higher_is_better": higher_is_better,
        "arms": {a.name: {"rows": a.rows, "metrics": a.metrics, "variants": list(ARMS[a.name])} for a in arms.values()},
        "difference": {
            "challenger_minus_champion": round(diff, 6),
            "ci95": [round(low, 6), round(high, 6)],
            "resamples": resamples,
            "seed": seed,
        },
        "test": {"name": test, "p_value": p_value, "alpha": ALPHA, "significant": p_value < ALPHA},
        "verdict": verdict(p_value, better),
    }
    output.mkdir(parents=True, exist_ok=True)
    write_json(output / "ab.json", report)
    plot(report, arms, boot, output / "ab.png")
    with atomic_path(output / "ab.md") as tmp:
        tmp.write_text(markdown(report))
    return report


def arm(name: str, rows: pd.DataFrame, probas: list[str], threshold: float) -> Arm:
    if rows.empty:
        variants = " or ".join(ARMS[name])
        raise MMPError(L.VARIANT, f"no labelled rows for the {name} (variant {variants})", "serve both variants and label their rows")
    if not probas:
        y, pred = rows[L.LABEL].to_numpy(float), rows[L.PREDICTION].to_numpy(float)
        return Arm(name, len(rows), regression_metrics(y, pred), np.abs(y - pred))
    classes = np.array([c.removeprefix(L.PROBA_PREFIX) for c in probas])
    proba = rows[probas].to_numpy(float)
    y = np.array([class_name(v) for v in rows[L.LABEL]])
    unknown = sorted(set(y) - set(classes))
    if unknown:
        raise MMPError(L.LABEL, f"labels {unknown[:5]} are not classes of the model", ", ".join(classes))
    correct = (predict_labels(proba, classes, threshold) == y).astype(float)
    return Arm(name, len(rows), classification_metrics(y, proba, classes, threshold), correct)


def class_name(value: Any) -> str:
    """A label as the log names classes (``mmp_proba_<class>``): 1.0 (a float column) is "1"."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def bootstrap_difference(a: np.ndarray, b: np.ndarray, seed: int, resamples: int) -> tuple[float, float, float, np.ndarray]:
    """mean(b) - mean(a), and its percentile bootstrap 95% interval (each arm resampled on its own)."""
    from scipy.stats import bootstrap

    def diff(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.mean(y, axis=axis) - np.mean(x, axis=axis)

    res = bootstrap((a, b), diff, n_resamples=resamples, method="percentile", rng=np.random.default_rng(seed), vectorized=True)
    return float(diff(a, b)), float(res.confidence_interval.low), float(res.confidence_interval.high), res.bootstrap_distribution


def significance(a: np.ndarray, b: np.ndarray, proportions: bool, seed: int, resamples: int) -> tuple[str, float]:
    """Two-sided p-value of "the arms differ": two-proportion z-test, else a permutation test."""
    from scipy.stats import norm, permutation_test

    if proportions:
        pooled = (a.sum() + b.sum()) / (len(a) + len(b))
        se = np.sqrt(pooled * (1 - pooled) * (1 / len(a) + 1 / len(b)))
        z = 0.0 if se == 0 else (b.mean() - a.mean()) / se
        return "two-proportion z-test", float(2 * norm.sf(abs(z)))
    res = permutation_test(
        (a, b),
        lambda x, y, axis=-1: np.mean(y, axis=axis) - np.mean(x, axis=axis),
        n_resamples=resamples,
        rng=np.random.default_rng(seed),
        vectorized=True,
    )
    return "permutation test", float(res.pvalue)


def verdict(p_value: float, challenger_better: bool) -> str:
    if p_value >= ALPHA:
        return f"no significant difference (p = {p_value:.3g} >= {ALPHA})"
    return f"the {'challenger' if challenger_better else 'champion'} is better (p = {p_value:.3g} < {ALPHA})"


def plot(report: dict[str, Any], arms: dict[str, Arm], boot: np.ndarray, path: Path) -> None:
    """Left: the compared metric per arm with its 95% interval; right: the bootstrap
    distribution of the difference, its interval and zero."""
    from matplotlib.figure import Figure

    metric = report["metric"]
    fig = Figure(figsize=(10, 4), dpi=120)
    left, right = fig.subplots(1, 2)
    names = list(arms)
    means = [arms[n].per_row.mean() for n in names]
    errors = [1.96 * arms[n].per_row.std(ddof=1) / np.sqrt(max(arms[n].rows, 1)) if arms[n].rows > 1 else 0.0 for n in names]
    left.bar(names, means, yerr=errors, capsize=8, color=["#4c72b0", "#dd8452"])
    left.set_title(f"{metric} per variant (labelled rows: {', '.join(str(arms[n].rows) for n in names)})")
    left.set_ylabel(metric)
    low, high = report["difference"]["ci95"]
    right.hist(boot, bins=50, color="#999999")
    for x, style in ((low, "--"), (high, "--"), (report["difference"]["challenger_minus_champion"], "-")):
        right.axvline(x, color="#dd8452", linestyle=style)
    right.axvline(0.0, color="black", linewidth=0.8)
    right.set_title(f"challenger - champion: {report['test']['name']}, p = {report['test']['p_value']:.2g}")
    right.set_xlabel(f"difference in {metric} (bootstrap, 95% interval dashed)")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")


def markdown(report: dict[str, Any]) -> str:
    metric, diff = report["metric"], report["difference"]
    lines = [
        "# A/B report",
        "",
        f"**{report['verdict']}** on {metric} ({'higher' if report['higher_is_better'] else 'lower'} is better).",
        "",
        "| variant | labelled rows | " + " | ".join(report["arms"]["champion"]["metrics"]) + " |",
        "|---|---:|" + "---:|" * len(report["arms"]["champion"]["metrics"]),
    ]
    for name, a in report["arms"].items():
        lines.append(f"| {name} | {a['rows']} | " + " | ".join(f"{v:.4f}" for v in a["metrics"].values()) + " |")
    lines += [
        "",
        f"Difference in {metric} (challenger - champion): {diff['challenger_minus_champion']:.4f}, "
        f"95% bootstrap interval [{diff['ci95'][0]:.4f}, {diff['ci95'][1]:.4f}] ({diff['resamples']} resamples, seed {diff['seed']}).",
        f"{report['test']['name']}: p = {report['test']['p_value']:.4g}.",
        "",
        "![A/B](ab.png)",
        "",
    ]
    return "\n".join(lines)
