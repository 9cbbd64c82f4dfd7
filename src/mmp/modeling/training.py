"""Fitting an estimator, with training curves through dvclive where the model iterates."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import pandas as pd

from mmp.core.config import FinetuneConfig, ModelConfig, Params, PretrainConfig
from mmp.core.errors import MMPError

# LightGBM's training curve is the loss on a seeded sample of at most this many train rows:
# scoring every train row each round nearly doubled the fit at 2M rows (16 s -> 30 s); a 50k
# sample draws the same curve for about 1 s.
CURVE_ROWS = 50_000


def category_kwargs(estimator: Any, X: pd.DataFrame) -> dict[str, Any]:
    """``fit`` keywords that make LightGBM split on the category code columns of ``X``."""
    from mmp.modeling.features import category_codes

    codes = category_codes(X) if is_lightgbm(estimator) else []
    return {"categorical_feature": codes} if codes else {}


def fit_model(
    estimator: Any,
    X: pd.DataFrame,
    y: pd.Series | pd.DataFrame,
    live: Any | None = None,
    treatment: pd.Series | None = None,
    loggers: Sequence[Any] = (),
    threads: Threads | None = None,
) -> Any:
    """Fit ``estimator``. LightGBM logs its per-round loss to ``live``; an estimator whose
    ``fit`` takes a ``live`` argument (mmp's torch models) logs its own epochs, and one whose
    ``fit`` takes ``loggers`` (the Lightning models) also logs to those Lightning loggers. An uplift
    learner gets the ``treatment`` by keyword: mmp's take ``fit(X, y, treatment)``, causalml's
    ``fit(X, treatment, y)``. ``threads``: a LightGBM fit's (:class:`Threads`)."""
    if treatment is not None:
        return estimator.fit(X, treatment=treatment.to_numpy(), y=y.to_numpy())
    if is_lightgbm(estimator):
        return fit_lightgbm(estimator, X, y, live, threads)
    if loggers and "loggers" in inspect.signature(estimator.fit).parameters:
        return estimator.fit(X, y, live=live, loggers=loggers)
    if live is not None and "live" in inspect.signature(estimator.fit).parameters:
        return estimator.fit(X, y, live=live)
    return estimator.fit(X, y)


def is_lightgbm(estimator: Any) -> bool:
    return type(estimator).__module__.startswith("lightgbm")


@dataclass(frozen=True)
class Threads:
    """A LightGBM fit on ``count`` threads instead of its ``n_jobs`` (an integer). ``as_recipe``:
    the fitted model then predicts on its ``n_jobs`` and its booster stores that thread count, as
    a fit on its own ``n_jobs`` would, by a reset after the last round (earlier, a reset would
    change how later trees split categories). Off for a model that is thrown away: it keeps
    ``count`` for its predictions too. LightGBM's thread count is process-wide, and the reset or
    a prediction on more threads would change it under a fit running beside it in another thread."""

    count: int
    as_recipe: bool = True


def fit_lightgbm(
    estimator: Any, X: pd.DataFrame, y: pd.Series | pd.DataFrame, live: Any | None = None, threads: Threads | None = None
) -> Any:
    """Fit a LightGBM estimator on the category code columns of ``X`` as categories, its loss
    curve on a sample to ``live``. With ``threads``, the fit runs on that many threads; LightGBM
    grows the same trees on any thread count, so the booster comes out byte for byte as a fit on
    its own ``n_jobs`` would (``as_recipe``). Only the curve's loss may differ in its last digits
    (summed on another number of threads)."""
    kwargs: dict[str, Any] = category_kwargs(estimator, X)
    callbacks = []
    if live is not None:
        from dvclive.lgbm import DVCLiveCallback

        sample = X.sample(n=CURVE_ROWS, random_state=0) if len(X) > CURVE_ROWS else X
        kwargs |= {"eval_X": (sample,), "eval_y": (y.loc[sample.index],), "eval_names": ["train"]}
        callbacks.append(DVCLiveCallback(live=live))
    if threads is None:
        return estimator.fit(X, y, callbacks=callbacks, **kwargs)
    own = estimator.n_jobs
    if not isinstance(own, int) or own < 1:
        raise ValueError(f"threads needs a LightGBM estimator with a positive integer n_jobs, not {own!r}")

    def stored_threads(env: Any) -> None:
        if env.iteration == env.end_iteration - 1:  # after the round's evaluation: the curve is whole
            env.model.reset_parameter({"num_threads": own})

    estimator.n_jobs = threads.count  # an attribute, not set_params: that would record n_jobs among its other params
    if not threads.as_recipe:
        return estimator.fit(X, y, callbacks=callbacks, **kwargs)
    try:
        return estimator.fit(X, y, callbacks=[*callbacks, stored_threads], **kwargs)
    finally:
        estimator.n_jobs = own


TORCH_RECIPES = "model=mlp, mlp_regressor, tab_transformer or tab_transformer_regressor"


def check_warm_start(estimator: Any, model: ModelConfig) -> None:
    """``model.finetune`` needs a torch network, ``model.pretrain`` a TabTransformer: one line otherwise."""
    if not (model.finetune.source or model.pretrain.enabled):
        return
    from mmp.modeling.models.tab_transformer import _TabTransformer
    from mmp.modeling.models.torch_base import FINETUNE_KEY, TorchEstimator

    if model.finetune.source and not isinstance(estimator, TorchEstimator):
        raise MMPError(FINETUNE_KEY, f"{model.class_path} is not a torch model: fine-tuning warm-starts a network's weights", TORCH_RECIPES)
    if model.pretrain.enabled and not isinstance(estimator, _TabTransformer):
        raise MMPError(
            "model.pretrain.enabled",
            f"{model.class_path} has no encoder to pre-train",
            "model=tab_transformer or tab_transformer_regressor",
        )


def pretrain(estimator: Any, X: pd.DataFrame, settings: PretrainConfig) -> Any:
    """Pre-train a TabTransformer's encoder on ``X`` (the inputs, no target); its next fit starts from it."""
    from mmp.modeling.models.pretrain import pretrain_encoder

    return pretrain_encoder(estimator, X, settings.epochs, settings.mask_rate, settings.rows)


def finetune(estimator: Any, base: Any, X: pd.DataFrame, y: pd.Series | pd.DataFrame, settings: FinetuneConfig, live: Any = None) -> Any:
    """Warm-start ``estimator`` from ``base`` and train ``settings.epochs`` epochs on ``X, y``."""
    if settings.lr is not None:
        estimator.set_params(lr=settings.lr)
    return estimator.fine_tune(base, X, y.to_numpy(), settings.epochs, settings.class_weight == "balanced", live)


def fit_recipe(
    features: pd.DataFrame,
    params: Params,
    best: Mapping[str, Any] | None = None,
    live: Any = None,
    base: Callable[[], AbstractContextManager[Any]] | None = None,
    loggers: Sequence[Any] = (),
    threads: Threads | None = None,
) -> Any:
    """Build the estimator of the model recipe (with ``best``, the tune step's values) and fit it
    on the feature matrix ``features`` (the label columns beside the features). ``model.pretrain``
    pre-trains a TabTransformer's encoder first; with ``base`` (opens the fitted model that
    ``model.finetune.from`` names: a download, so only once the recipe is known to fine-tune) the
    estimator warm-starts from its weights instead of fitting from scratch (README "Fine-tuning").
    A Lightning model also logs to ``loggers`` (Lightning loggers). ``threads``: see :func:`fit_model`."""
    from mmp.core.target import target
    from mmp.modeling.recipe import recipe_estimator

    data = params.data
    estimator = recipe_estimator(params.model, data.task_type, params.seed, best)
    check_warm_start(estimator, params.model)
    X, y = features.drop(columns=data.label_cols), target(features, data.targets)
    if params.model.pretrain.enabled:
        pretrain(estimator, X, params.model.pretrain)
    if base is not None:
        with base() as fitted:
            return finetune(estimator, fitted, X, y, params.model.finetune, live)
    fit_model(estimator, X, y, live, features[data.treatment_col] if data.treatment_col else None, loggers, threads)
    return estimator
