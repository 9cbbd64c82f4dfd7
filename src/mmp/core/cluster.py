"""The Dask client that ``compute=dask`` runs on: a ``LocalCluster`` sized by ``conf/compute``
(params), or the scheduler of an existing cluster named by the runtime setting
``DASK_SCHEDULER_ADDRESS`` (``dask.scheduler_address`` in conf/env, never a param). Dask is
imported only here and only when a client is opened."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from mmp.core.config import ComputeConfig
from mmp.core.errors import MMPError
from mmp.core.settings import DaskSettings

T = TypeVar("T")


@contextmanager
def dask_client(compute: ComputeConfig, settings: DaskSettings) -> Iterator[Any]:
    """A connected ``distributed.Client``, closed (and its LocalCluster shut down) on exit."""
    from distributed import Client, LocalCluster

    if settings.scheduler_address:
        try:
            client = Client(settings.scheduler_address, timeout=settings.connect_timeout)
        except (OSError, TimeoutError) as err:
            raise MMPError(
                "DASK_SCHEDULER_ADDRESS",
                f"cannot reach the Dask scheduler within {settings.connect_timeout:g} s ({type(err).__name__})",
                "the address of a running scheduler, e.g. tcp://host:8786, or unset it for a LocalCluster",
            ) from None
        with client:
            yield client
        return
    cluster = LocalCluster(
        n_workers=compute.n_workers, threads_per_worker=compute.threads_per_worker, processes=True, dashboard_address=None
    )
    with cluster, Client(cluster) as client:
        yield client


def on_cluster(job: Callable[[], T], what: str) -> T:
    """Run ``job`` (which computes on the cluster); a worker lost beyond Dask's retries, or a
    task that failed on a worker, becomes one line naming ``what`` instead of a traceback."""
    from distributed.client import FutureCancelledError
    from distributed.scheduler import KilledWorker

    try:
        return job()
    except KilledWorker as err:
        raise MMPError(
            "compute=dask", f"{what} failed: a worker died running {err.task!r} more often than Dask retries it", "a healthier cluster"
        ) from None
    except FutureCancelledError as err:
        raise MMPError("compute=dask", f"{what} failed: the cluster cancelled its work ({err})") from None
