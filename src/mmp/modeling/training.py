"""Fitting an estimator, with training curves through dvclive where the model iterates."""

from __future__ import annotations

import inspect
from typing import Any

import pandas as pd

# LightGBM's training curve is the loss on a seeded sample of at most this many train rows:
# scoring every train row each round nearly doubled the fit at 2M rows (16 s -> 30 s); a 50k
# sample draws the same curve for about 1 s.
CURVE_ROWS = 50_000


def category_kwargs(estimator: Any, X: pd.DataFrame) -> dict[str, Any]:
    """``fit`` keywords that make LightGBM split on the category code columns of ``X``."""
    from mmp.modeling.features import category_codes

    codes = category_codes(X) if type(estimator).__module__.startswith("lightgbm") else []
    return {"categorical_feature": codes} if codes else {}


def fit_model(
    estimator: Any, X: pd.DataFrame, y: pd.Series | pd.DataFrame, live: Any | None = None, treatment: pd.Series | None = None
) -> Any:
    """Fit ``estimator``. LightGBM logs its per-round loss to ``live``; an estimator whose
    ``fit`` takes a ``live`` argument (mmp's torch models) logs its own epochs. An uplift
    learner gets the ``treatment`` by keyword: mmp's take ``fit(X, y, treatment)``, causalml's
    ``fit(X, treatment, y)``."""
    if treatment is not None:
        return estimator.fit(X, treatment=treatment.to_numpy(), y=y.to_numpy())
    if live is not None and type(estimator).__module__.startswith("lightgbm"):
        from dvclive.lgbm import DVCLiveCallback

        sample = X.sample(n=CURVE_ROWS, random_state=0) if len(X) > CURVE_ROWS else X
        return estimator.fit(
            X,
            y,
            eval_X=(sample,),
            eval_y=(y.loc[sample.index],),
            eval_names=["train"],
            callbacks=[DVCLiveCallback(live=live)],
            **category_kwargs(estimator, X),
        )
    if live is not None and "live" in inspect.signature(estimator.fit).parameters:
        return estimator.fit(X, y, live=live)
    return estimator.fit(X, y, **category_kwargs(estimator, X))
