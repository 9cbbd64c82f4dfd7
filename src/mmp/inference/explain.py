"""Per-record explanations: how much each RAW input column moved a prediction away from a base value.

Contributions are computed in the model's feature space and summed back to the raw column each
feature comes from (one-hot columns to their source column, date parts to their date, an
interaction term split evenly between its columns), so they add up exactly:

    base_value + sum(contributions) == raw_score

The raw score is the margin (log-odds) for a binary LightGBM, gradient-boosting or logistic model
(``link == "logit"``: its sigmoid is the positive class's probability), the probability itself for
a random forest (``link == "identity"``: a forest averages probabilities), the prediction for a
regressor. A multiclass model is explained for its predicted class (``link == "softmax"``: the
class's margin; a forest's stays ``identity``, the class's probability).

Methods, fastest first: LightGBM's own ``pred_contrib`` (TreeSHAP inside LightGBM); SHAP's
TreeExplainer (path-dependent TreeSHAP) for other tree models; SHAP's LinearExplainer for linear
models; SHAP's PermutationExplainer for anything else. The linear and permutation explainers
need a background: the caller passes one (the package's example row of medians and modes when
serving, a seeded sample of the test split in the evaluate stage). SHAP is imported only when a
model needs it (its import costs seconds).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline

from mmp.core.errors import MMPError

DEFAULT_TOP_K = 5
MAX_TOP_K = 100
PERMUTATION_SEED = 0
# The permutation explainer calls the model on (evaluations x background rows) rows per explained
# row: a small background and a bounded number of evaluations keep it at seconds, not hours.
PERMUTATION_BACKGROUND = 10
PERMUTATION_EVALS = 200
# TreeSHAP costs about a millisecond per row (300 trees), a thousand times a prediction: OpenMP's
# start-up pays for itself from a few dozen rows (the evaluate stage explains 1,000).
CONTRIB_SINGLE_THREAD_ROWS = 64


@dataclass(frozen=True)
class Explanation:
    """Explanations of ``n`` rows over the raw ``columns``."""

    columns: list[str]
    base_value: np.ndarray  # (n,)
    contributions: np.ndarray  # (n, len(columns)), in the raw score's units
    explained: np.ndarray  # (n,) index of the explained output (class) per row
    method: str
    link: str  # "logit", "identity" or "softmax": how the raw score relates to the probability

    @property
    def raw_score(self) -> np.ndarray:
        return self.base_value + self.contributions.sum(axis=1)

    def top(self, row: int, k: int) -> list[tuple[str, float]]:
        """The ``k`` largest contributions of ``row`` by absolute value, largest first."""
        values = self.contributions[row]
        order = np.lexsort((np.arange(len(values)), -np.abs(values)))[:k]
        return [(self.columns[j], float(values[j])) for j in order]


def lightgbm_booster(model: Any) -> Any:
    """LightGBM's booster predicts without the sklearn wrapper's per-call validation; used only
    for the stock objectives whose probabilities the wrapper computes the same way."""
    if not type(model).__module__.startswith("lightgbm") or callable(getattr(model, "objective", None)):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return getattr(model, "booster_", None)


# -- which raw column each model feature comes from ----------------------------------------------


def raw_columns(featurizer: Any) -> list[str]:
    """The raw input columns a fitted featurizer reads, in its transformers' order."""
    transformer = featurizer.steps[0][1] if isinstance(featurizer, Pipeline) else featurizer
    if not isinstance(transformer, ColumnTransformer):
        raise MMPError("featurizer", f"{type(transformer).__name__} cannot be mapped back to raw columns", "mmp's ColumnTransformer")
    return [str(c) for _, pipe, cols in transformer.transformers_ if not isinstance(pipe, str) for c in cols]


def source_matrix(featurizer: Any, raw_columns: list[str]) -> np.ndarray:
    """A (model features x raw columns) matrix of weights, each row summing to 1: multiplying
    feature-space contributions by it sums them back to raw columns."""
    sources = feature_sources(featurizer)
    index = {c: j for j, c in enumerate(raw_columns)}
    matrix = np.zeros((len(sources), len(raw_columns)))
    for i, cols in enumerate(sources):
        for col in cols:
            matrix[i, index[col]] += 1.0 / len(cols)
    return matrix


def feature_sources(featurizer: Any) -> list[list[str]]:
    """For each output column of mmp's fitted featurizer (a ColumnTransformer, optionally followed
    by fitted feature selectors in a Pipeline), the raw input column(s) it is computed from."""
    if isinstance(featurizer, Pipeline):
        first, *selectors = [step for _, step in featurizer.steps]
        selected = feature_sources(first)
        for selector in selectors:
            support = np.asarray(selector.get_support())
            selected = [s for s, keep in zip(selected, support, strict=True) if keep]
        return selected
    if not isinstance(featurizer, ColumnTransformer):
        raise MMPError("featurizer", f"{type(featurizer).__name__} cannot be mapped back to raw columns", "mmp's ColumnTransformer")
    sources: list[list[str]] = []
    for _, pipe, cols in featurizer.transformers_:
        if isinstance(pipe, str):  # "drop" (passthrough is not used by mmp's featurizer)
            continue
        cols = [str(c) for c in cols]
        sources += [_source(str(name), cols) for name in pipe.get_feature_names_out(cols)]
    return sources


def _source(name: str, cols: list[str]) -> list[str]:
    if name in cols:
        return [name]
    if " " in name:  # a PolynomialFeatures term: "a b" or "a^2"
        terms = [t.split("^", 1)[0] for t in name.split(" ")]
        if all(t in cols for t in terms):
            return list(dict.fromkeys(terms))
    prefixed = [c for c in cols if name.startswith(f"{c}_")]  # one-hot "region_north", date "d_year"
    if prefixed:
        return [max(prefixed, key=len)]
    if len(cols) == 1:
        return cols
    raise MMPError("featurizer", f"cannot tell which raw column feature {name!r} comes from", ", ".join(cols))


# -- the explainers ------------------------------------------------------------------------------

Contributions = tuple[np.ndarray, np.ndarray]  # base (n, K), contributions (n, F, K)


class Explainer:
    """Explains one fitted model over one featurizer's output; built once per loaded model."""

    def __init__(self, model: Any, mapping: np.ndarray, columns: list[str], background: np.ndarray, booster: Any = None):
        self.model, self.mapping, self.columns = model, mapping, columns
        self.background = np.asarray(background, dtype=np.float64)
        self.booster = booster
        self.classes = getattr(model, "classes_", None)
        self.method, self._compute, self.link = self._choose()

    def explain(self, X: Any, explained: np.ndarray | None = None) -> Explanation:
        """Explain rows of the feature matrix ``X``; ``explained`` names the output (class index)
        to explain per row (default: the positive class of a binary model, else output 0)."""
        X = np.asarray(X, dtype=np.float64)
        base, contrib = self._compute(X)
        if self.classes is not None and len(self.classes) == 2 and base.shape[1] == 1:
            base, contrib = _binary_pair(base, contrib)
        if explained is None:
            explained = np.full(len(X), 1 if base.shape[1] == 2 else 0, dtype=np.intp)
        rows = np.arange(len(X))
        raw = contrib[rows, :, explained] @ self.mapping
        return Explanation(self.columns, base[rows, explained], raw, explained, self.method, self.link)

    def _choose(self) -> tuple[str, Callable[[np.ndarray], Contributions], str]:
        multiclass = self.classes is not None and len(self.classes) > 2
        if self.booster is not None:
            return "lightgbm_pred_contrib", self._lightgbm, "softmax" if multiclass else self._margin_link()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import shap

            try:
                tree = shap.TreeExplainer(self.model)
            except Exception:  # noqa: BLE001  # shap says "not supported" with a bare Exception
                tree = None
            if tree is not None:
                # a forest's trees hold probabilities (identity); boosted trees hold log-odds
                margin = str(getattr(tree.model, "tree_output", "")) == "log_odds"
                link = ("softmax" if multiclass else "logit") if margin else "identity"
                return "shap_tree", lambda X: _shap_output(tree, X), link
            if hasattr(self.model, "coef_") and hasattr(self.model, "intercept_"):
                linear = shap.LinearExplainer(self.model, self.background)
                return "shap_linear", lambda X: _shap_output(linear, X), "softmax" if multiclass else self._margin_link()
        return "shap_permutation", self._permutation, "softmax" if multiclass else self._margin_link()

    def _margin_link(self) -> str:
        return "identity" if self.classes is None else "logit"

    def _lightgbm(self, X: np.ndarray) -> Contributions:
        out = np.asarray(
            self.booster.predict(X, pred_contrib=True, num_threads=1 if len(X) < CONTRIB_SINGLE_THREAD_ROWS else 0), dtype=np.float64
        )
        n, width = len(X), X.shape[1] + 1
        blocks = out.reshape(n, -1, width)  # (n, K, F + 1): one block per class for multiclass
        return blocks[:, :, -1], blocks[:, :, :-1].transpose(0, 2, 1)

    def _permutation(self, X: np.ndarray) -> Contributions:
        import shap

        f = self._margin_function()
        masker = shap.maskers.Independent(self.background, max_samples=PERMUTATION_BACKGROUND)  # a seeded subsample
        explainer = shap.PermutationExplainer(f, masker, seed=PERMUTATION_SEED)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = explainer(X, max_evals=max(2 * X.shape[1] + 1, PERMUTATION_EVALS), silent=True)
        values, base = np.asarray(result.values, dtype=np.float64), np.asarray(result.base_values, dtype=np.float64)
        return base.reshape(len(X), -1), values.reshape(len(X), X.shape[1], -1)

    def _margin_function(self) -> Callable[[np.ndarray], np.ndarray]:
        """The model's raw score from a feature matrix: the log-odds of the positive class
        (binary), the log-probabilities (multiclass), the prediction (regression)."""
        names = getattr(self.model, "feature_names_in_", None)

        def frame(X: np.ndarray) -> Any:
            import pandas as pd

            return pd.DataFrame(X.astype(np.float32), columns=names) if names is not None else X.astype(np.float32)

        if self.classes is None:
            return lambda X: np.asarray(self.model.predict(frame(X)), dtype=np.float64)
        eps = 1e-12

        def margin(X: np.ndarray) -> np.ndarray:
            proba = np.clip(np.asarray(self.model.predict_proba(frame(X)), dtype=np.float64), eps, 1 - eps)
            return np.log(proba[:, 1] / proba[:, 0]) if proba.shape[1] == 2 else np.log(proba)

        return margin


def _binary_pair(base: np.ndarray, contrib: np.ndarray) -> Contributions:
    """A binary model's single output as the positive class (index 1), with the negative class
    its mirror image, so output indices are class indices."""
    return np.concatenate([-base, base], axis=1), np.concatenate([-contrib, contrib], axis=2)


def _shap_output(explainer: Any, X: np.ndarray) -> Contributions:
    """A SHAP explainer's values and expected values as (n, K) and (n, F, K)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        values = explainer.shap_values(X)
    if isinstance(values, list):  # older SHAP: one array per output
        values = np.stack(values, axis=-1)
    values = np.asarray(values, dtype=np.float64).reshape(len(X), X.shape[1], -1)
    base = np.broadcast_to(np.asarray(explainer.expected_value, dtype=np.float64).reshape(1, -1), (len(X), values.shape[2]))
    return np.array(base), values


def inverse_link(link: str, raw_score: np.ndarray) -> np.ndarray | None:
    """The probability a raw score stands for (None where one margin cannot say: softmax)."""
    if link == "logit":
        return 1.0 / (1.0 + np.exp(-raw_score))
    return raw_score if link == "identity" else None
