"""Which cluster compute=dask runs on: a LocalCluster sized by conf/compute, or the scheduler
that the runtime setting DASK_SCHEDULER_ADDRESS names."""

from __future__ import annotations

from typing import Any

import pytest

from mmp.core.cluster import dask_client
from mmp.core.config import ComputeConfig
from mmp.core.errors import MMPError
from mmp.core.settings import DaskSettings, load_settings
from tests.conftest import ROOT


def test_dask_scheduler_address_connects_to_that_cluster(dask_cluster: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", dask_cluster.scheduler_address)
    settings = load_settings("local", ROOT).dask
    assert settings.scheduler_address == dask_cluster.scheduler_address
    with dask_client(ComputeConfig(engine="dask", n_workers=5), settings) as client:
        assert client.scheduler.address == dask_cluster.scheduler_address
        assert len(client.scheduler_info()["workers"]) == 2  # the cluster's own workers, not n_workers


def test_no_address_means_no_scheduler_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    assert load_settings("local", ROOT).dask.scheduler_address is None


def test_an_unreachable_scheduler_is_one_line() -> None:
    settings = DaskSettings(scheduler_address="tcp://127.0.0.1:9", connect_timeout=2)
    with pytest.raises(MMPError) as err, dask_client(ComputeConfig(engine="dask"), settings):
        pass
    assert str(err.value) == (
        "DASK_SCHEDULER_ADDRESS: cannot reach the Dask scheduler within 2 s (OSError) "
        "(allowed: the address of a running scheduler, e.g. tcp://host:8786, or unset it for a LocalCluster)"
    )
