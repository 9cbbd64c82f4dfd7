"""Uplift (causal) meta-learners with scikit-learn's API: ``fit(X, y, treatment)`` and
``predict(X)``, which returns the estimated individual treatment effect (CATE) of each row.

The treatment (0 control, 1 treated) is never a feature: the train step hands it to ``fit``
and scoring estimates the effect without it. Any estimator goes inside, as a nested recipe
(``estimator: {class_path: lightgbm.LGBMRegressor, ...}``; LightGBM when left out). A
classifier inside (a 0/1 outcome) is read through its predicted probability of 1, so the effect
is a difference in probabilities.

- :class:`SLearner`: one model with the treatment as an extra input; effect = f(x, 1) - f(x, 0).
- :class:`TLearner`: one model per group; effect = f1(x) - f0(x).
- :class:`XLearner` (Kunzel et al. 2019): the T-learner's models impute each row's effect
  (treated: y - f0(x); control: f1(x) - y), a regressor per group learns those, and the two
  are blended with the propensity g(x): effect = g(x) * tau0(x) + (1 - g(x)) * tau1(x).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone, is_classifier

TREATMENT_FEATURE = "treatment_indicator"  # the S-learner's extra input column


def default_estimator() -> Any:
    from lightgbm import LGBMRegressor

    return LGBMRegressor(n_estimators=200, learning_rate=0.05, num_leaves=15, verbose=-1)


def estimate_effect(model: Any, X: Any) -> np.ndarray:
    """The estimated effect per row as float64. causalml's learners return one column per
    treatment group: a 0/1 treatment has one."""
    return np.asarray(model.predict(X), dtype="float64").reshape(len(X), -1)[:, 0]


def _new(template: Any) -> Any:
    """A fresh copy of a recipe's estimator, or LightGBM when the recipe names none."""
    return clone(template) if template is not None else default_estimator()


def _outcome(model: Any, X: Any) -> np.ndarray:
    """A fitted outcome model's prediction: the probability of 1 for a classifier."""
    if is_classifier(model):
        return np.asarray(model.predict_proba(X), dtype="float64")[:, 1]
    return np.asarray(model.predict(X), dtype="float64")


def _rows(X: Any, mask: np.ndarray) -> Any:
    return X[mask] if isinstance(X, pd.DataFrame) else np.asarray(X)[mask]


def _treated(treatment: Any) -> np.ndarray:
    t = np.asarray(treatment)
    if not np.isin(t, (0, 1)).all() or len(np.unique(t)) < 2:
        raise ValueError("treatment must hold 0 (control) and 1 (treated), both present")
    return t.astype(bool)


def _importances(models: list[Any], drop_last: bool = False) -> np.ndarray:
    """The mean of the inner models' normalised importances (AttributeError: none to give)."""
    values = []
    for model in models:
        imp = np.asarray(model.feature_importances_, dtype="float64")
        imp = imp[:-1] if drop_last else imp
        values.append(imp / imp.sum() if imp.sum() > 0 else imp)
    return np.mean(values, axis=0)


class _MetaLearner(BaseEstimator):
    """What the learners share: the inner estimator (cloned per fit) and the fitted checks."""

    estimator: Any

    def _start(self, X: Any) -> None:
        """Record the input columns (``feature_names_in_``), so scoring hands the inner models
        a frame with the names they were fitted on."""
        names = X.columns if isinstance(X, pd.DataFrame) else None
        if names is not None:
            self.feature_names_in_ = np.asarray(names, dtype=object)
        self.n_features_in_ = np.shape(X)[1]

    def _fit_outcome(self, X: Any, y: np.ndarray, mask: np.ndarray) -> Any:
        return _new(self.estimator).fit(_rows(X, mask), y[mask])


class SLearner(_MetaLearner):
    def __init__(self, estimator: Any = None):
        self.estimator = estimator

    def fit(self, X: Any, y: Any, treatment: Any) -> SLearner:
        t = _treated(treatment)
        self._start(X)
        self.model_ = _new(self.estimator).fit(self._with_treatment(X, t.astype("float64")), np.asarray(y))
        return self

    def predict(self, X: Any) -> np.ndarray:
        ones, zeros = np.ones(len(X)), np.zeros(len(X))
        return _outcome(self.model_, self._with_treatment(X, ones)) - _outcome(self.model_, self._with_treatment(X, zeros))

    @staticmethod
    def _with_treatment(X: Any, t: np.ndarray) -> Any:
        if isinstance(X, pd.DataFrame):
            return X.assign(**{TREATMENT_FEATURE: t})
        return np.column_stack([np.asarray(X), t])

    @property
    def feature_importances_(self) -> np.ndarray:
        return _importances([self.model_], drop_last=True)


class TLearner(_MetaLearner):
    def __init__(self, estimator: Any = None):
        self.estimator = estimator

    def fit(self, X: Any, y: Any, treatment: Any) -> TLearner:
        t, yy = _treated(treatment), np.asarray(y)
        self._start(X)
        self.control_ = self._fit_outcome(X, yy, ~t)
        self.treated_ = self._fit_outcome(X, yy, t)
        return self

    def predict(self, X: Any) -> np.ndarray:
        return _outcome(self.treated_, X) - _outcome(self.control_, X)

    @property
    def feature_importances_(self) -> np.ndarray:
        return _importances([self.control_, self.treated_])


class XLearner(_MetaLearner):
    """``effect_estimator``: the second-stage regressor (default: the outcome estimator when it
    is a regressor, else LightGBM); ``propensity``: a classifier of the treatment (default: the
    treated share of the train rows, right for a randomised experiment)."""

    def __init__(self, estimator: Any = None, effect_estimator: Any = None, propensity: Any = None):
        self.estimator = estimator
        self.effect_estimator = effect_estimator
        self.propensity = propensity

    def fit(self, X: Any, y: Any, treatment: Any) -> XLearner:
        t, yy = _treated(treatment), np.asarray(y, dtype="float64")
        self._start(X)
        control, treated = self._fit_outcome(X, yy, ~t), self._fit_outcome(X, yy, t)
        X1, X0 = _rows(X, t), _rows(X, ~t)
        effect_template = self.effect_estimator
        if effect_template is None and self.estimator is not None and not is_classifier(self.estimator):
            effect_template = self.estimator
        self.effect_treated_ = _new(effect_template).fit(X1, yy[t] - _outcome(control, X1))
        self.effect_control_ = _new(effect_template).fit(X0, _outcome(treated, X0) - yy[~t])
        self.treated_share_ = float(t.mean())
        self.propensity_ = None if self.propensity is None else clone(self.propensity).fit(X, t.astype("int64"))
        return self

    def predict(self, X: Any) -> np.ndarray:
        g = np.full(len(X), self.treated_share_) if self.propensity_ is None else _outcome(self.propensity_, X)
        return g * _outcome(self.effect_control_, X) + (1 - g) * _outcome(self.effect_treated_, X)

    @property
    def feature_importances_(self) -> np.ndarray:
        return _importances([self.effect_control_, self.effect_treated_])
