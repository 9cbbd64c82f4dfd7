"""Training on a Dask cluster (``compute=dask``): LightGBM recipes fit with LightGBM's own Dask
estimators (``lightgbm.dask``), and the result is converted back to the plain local estimator
(``to_local()``), so the packaged model is the same pyfunc as a local run's."""

from __future__ import annotations

from typing import Any

from mmp.core.errors import MMPError, collect

# The estimators that have a lightgbm.dask twin: LightGBM's classifier and regressor.
DASK_TWINS = {"LGBMClassifier": "DaskLGBMClassifier", "LGBMRegressor": "DaskLGBMRegressor"}


def dask_model_problems(cls: type, n_targets: int) -> list[MMPError]:
    """Why a model of class ``cls`` cannot train on Dask (the one rule of which recipes run
    there, checked by ``mmp validate`` and the train stage alike)."""
    errors = collect(dask_twin, cls)[1]
    if n_targets != 1:
        errors.append(MMPError("data.target_col", "compute=dask trains one target", "one target column, or compute=local"))
    return errors


def dask_twin(cls: type) -> str:
    """The lightgbm.dask class of the model class ``cls``; any other is refused in one line."""
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

    from mmp.modeling.training import category_kwargs

    twin = getattr(lightgbm.dask, dask_twin(type(estimator)))(client=client, **estimator.get_params())
    twin.fit(X, y, **category_kwargs(estimator, X))
    return twin.to_local()
