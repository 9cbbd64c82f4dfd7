"""Training on a Dask cluster (``compute=dask``): LightGBM recipes fit with LightGBM's own Dask
estimators (``lightgbm.dask``), and the result is converted back to the plain local estimator
(``to_local()``), so the packaged model is the same pyfunc as a local run's."""

from __future__ import annotations

from typing import Any

from mmp.core.errors import MMPError

# The estimators that have a lightgbm.dask twin: LightGBM's classifier and regressor.
DASK_TWINS = {"LGBMClassifier": "DaskLGBMClassifier", "LGBMRegressor": "DaskLGBMRegressor"}


def dask_twin(estimator: Any) -> str:
    """The lightgbm.dask class of ``estimator``; any other recipe is refused in one line (the
    one rule of which recipes run on Dask)."""
    cls = type(estimator)
    if cls.__module__.startswith("lightgbm.") and cls.__name__ in DASK_TWINS:
        return DASK_TWINS[cls.__name__]
    raise MMPError(
        "model.class_path",
        f"{cls.__module__}.{cls.__name__} cannot train on Dask: compute=dask trains the LightGBM recipes only "
        "(model=lightgbm, model=lightgbm_regressor)",
        "lightgbm.LGBMClassifier or lightgbm.LGBMRegressor, or compute=local for this recipe",
    )


def fit_on_dask(estimator: Any, X: Any, y: Any, client: Any) -> Any:
    """Fit the lightgbm.dask twin of ``estimator`` (same hyperparameters) on the Dask
    collections ``X``/``y`` and return the fitted local LightGBM estimator."""
    import lightgbm.dask

    twin = getattr(lightgbm.dask, dask_twin(estimator))(client=client, **estimator.get_params())
    twin.fit(X, y)
    return twin.to_local()
