"""Optuna on a Dask cluster (``compute=dask`` with ``tune.enabled``): ``tune.n_jobs`` worker
loops run as Dask tasks, each in its own worker process, and join the one study in the RDB
storage (``tune.storage``) as ``mmp tune-worker`` does. They share the budget of
``tune.n_trials`` and a trial whose worker dies is retried through the storage's heartbeats.
The workers read the same feature files: on a multi-machine cluster, a shared file system."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mmp.core.config import Params
from mmp.core.settings import TuneSettings


def worker_loop(params: Params, features: str, prepared: str, storage: TuneSettings, seed: int) -> list[int]:
    """One Dask worker's share of the study: open (join) it and run trials one at a time until
    the shared budget is reached; returns the numbers of the trials it ran."""
    from mmp.tuning.objective import worker_id
    from mmp.tuning.search import run_trials
    from mmp.tuning.session import open_session

    session = open_session(params, Path(features), Path(prepared), storage, sampler_seed=seed)
    run_trials(session.study, session.objective, params.tune.n_trials, 1, params.tune.timeout)
    me = worker_id()
    return sorted(t.number for t in session.study.get_trials(deepcopy=False) if t.user_attrs.get("worker") == me)


def tune_on_cluster(client: Any, params: Params, features: Path, prepared: Path, storage: TuneSettings) -> list[list[int]]:
    """Run ``tune.n_jobs`` worker loops on the cluster (one per task, each seeded apart, so
    they propose different values) and wait for them; the trials each one ran."""
    n = params.tune.n_jobs
    futures = [client.submit(worker_loop, params, str(features), str(prepared), storage, params.seed + 1 + i, pure=False) for i in range(n)]
    return list(client.gather(futures))
