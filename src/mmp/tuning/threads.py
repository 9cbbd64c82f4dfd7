"""How many threads one trial's estimator may use when several trials share this machine's cores.

LightGBM's OpenMP threads spin while they wait: two trials that each ask for every core on a
2-core machine spend much of their time pre-empting each other, so ``tune.n_jobs=2`` gave
about 1.25 times the trials per minute of one trial at a time. Giving each running trial an
equal share of the cores (one thread each on 2 cores) lets the trials, not the threads,
run in parallel."""

from __future__ import annotations

from typing import Any

# The constructor arguments that set an estimator's thread count, by library: scikit-learn,
# LightGBM and XGBoost (n_jobs), LightGBM's alias, CatBoost, mmp's torch models.
THREAD_PARAMS = ("n_jobs", "num_threads", "thread_count", "n_threads", "nthread")


def threads_per_trial(concurrent_trials: int, cores: int) -> int:
    """An equal share of ``cores`` for each of ``concurrent_trials`` trials, at least one."""
    return max(1, cores // max(1, concurrent_trials))


def cap_threads(estimator: Any, limit: int) -> Any:
    """``estimator`` with each thread-count argument it has set to at most ``limit``; a
    value that means "all cores" (``None``, ``0`` or negative, as LightGBM and joblib read
    them) becomes ``limit``. Smaller values are kept; the model's results do not change."""
    params = estimator.get_params(deep=False)
    update = {key: limit for key in THREAD_PARAMS if key in params and _exceeds(params[key], limit)}
    return estimator.set_params(**update) if update else estimator


def _exceeds(value: Any, limit: int) -> bool:
    if value is None:
        return True
    return isinstance(value, int) and not isinstance(value, bool) and (value <= 0 or value > limit)
