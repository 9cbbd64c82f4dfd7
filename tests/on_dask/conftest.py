"""The Dask tests' cluster: one LocalCluster for the session (2 worker processes, 1 thread each,
no dashboard), as CI runs it. Workers are spawned with this process's sys.path, so they import
the checkout's own ``src``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.test_tune_workers import postgres_url  # noqa: F401 - a fixture, found by name
from tests.serving.conftest import package_dir  # noqa: F401 - a fixture, found by name


@pytest.fixture(scope="session")
def dask_cluster() -> Iterator[Any]:
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None, processes=True) as cluster:
        yield cluster


@pytest.fixture
def client(dask_cluster: Any) -> Iterator[Any]:
    from distributed import Client

    with Client(dask_cluster) as client:
        client.wait_for_workers(2, timeout=60)
        yield client
