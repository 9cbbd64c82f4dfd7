"""Optuna on the cluster: ``tune.n_jobs`` worker loops as Dask tasks share one RDB study."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mmp.core.config import Params, parse
from mmp.core.settings import TuneSettings
from tests.tuning_helpers import make_workspace, params_dict

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("tune-postgres")]


def test_two_dask_workers_run_the_trials_of_one_study(client: Any, postgres_url: str, tmp_path: Path) -> None:
    import optuna

    from mmp.tuning.cluster import tune_on_cluster

    raw = params_dict(n_trials=4, n_jobs=2, cv={"folds": 2})
    root = make_workspace(tmp_path, raw)
    params = parse(Params, {**raw, "compute": {"engine": "dask"}})
    storage = TuneSettings(storage=postgres_url)
    ran = tune_on_cluster(client, params, root / "data" / "features", root / "data" / "prepared", storage)
    assert len(ran) == 2 and all(ran), f"each Dask worker ran trials: {ran}"
    [summary] = optuna.get_all_study_summaries(storage.url)
    study = optuna.load_study(study_name=summary.study_name, storage=storage.url)
    done = [t for t in study.trials if t.state.is_finished()]
    assert len({t.user_attrs["worker"] for t in done}) == 2  # two worker processes, one study
    assert sorted(n for numbers in ran for n in numbers) == sorted(t.number for t in study.trials)
    finished = [t for t in done if t.state.name in ("COMPLETE", "PRUNED")]
    assert 4 <= len(finished) <= 5, "the budget is shared, not doubled (at most one trial of overlap, as for tune-worker)"
