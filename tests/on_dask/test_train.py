"""compute=dask: prepare splits partitioned data on the cluster, train fits lightgbm.dask and
returns the same kind of local model as a local run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mmp.core.config import ComputeConfig, Params, parse
from mmp.core.errors import MMPError
from mmp.data.synthetic import credit_default
from mmp.pipeline import steps
from tests.conftest import mmp
from tests.serving.conftest import small_params

ROWS = 800


def dask_params(model: dict[str, Any] | None = None) -> Params:
    raw = small_params().model_dump()
    raw["compute"] = {"engine": "dask", "partitions": 2}
    if model:
        raw["model"] = model
    return parse(Params, raw)


def test_lightgbm_on_dask_scores_within_tolerance_of_the_local_fit(client: Any) -> None:
    import dask.dataframe as dd
    from lightgbm import LGBMClassifier

    from mmp.pipeline.dask_steps import train_on_dask

    params = dask_params()
    prepared = steps.prepare(credit_default(ROWS, 7), params.data, params.seed)
    featurized = steps.featurize(prepared.train, prepared.test, params)
    local = steps.evaluate(featurized.test, steps.train(featurized.train, params), params)
    model = train_on_dask(dd.from_pandas(featurized.train, npartitions=2), params, None, client)
    assert type(model) is LGBMClassifier  # to_local(): the packaged model is the same local pyfunc
    on_dask = steps.evaluate(featurized.test, model, params)
    # Data-parallel LightGBM on 2 workers builds each worker's histogram bins from its own
    # half of the rows, so the trees differ from a single-process fit; on ~160 test rows that
    # can move ROC AUC by a few hundredths; 0.05 allows that and still catches a broken fit.
    assert abs(on_dask["roc_auc"] - local["roc_auc"]) <= 0.05, (on_dask["roc_auc"], local["roc_auc"])
    assert on_dask["roc_auc"] > 0.6


FOREST = {"class_path": "sklearn.ensemble.RandomForestClassifier", "hyperparameters": {"n_estimators": 5}}
REFUSED = (
    "model.class_path: sklearn.ensemble._forest.RandomForestClassifier cannot train on Dask: compute=dask trains the LightGBM "
    "recipes only (model=lightgbm, model=lightgbm_regressor) (allowed: lightgbm.LGBMClassifier or lightgbm.LGBMRegressor, "
    "or compute=local for this recipe)"
)


def test_a_recipe_without_a_dask_estimator_is_refused_in_one_line_by_train_and_by_validate(tmp_path: Path) -> None:
    from mmp.pipeline.checks import config_problems
    from mmp.pipeline.dask_steps import dask_estimator

    with pytest.raises(MMPError) as err:
        dask_estimator(dask_params(FOREST), None)  # the train stage's own check (AutoML's chosen family included)
    assert str(err.value) == REFUSED
    raw = dask_params(FOREST).model_dump()
    raw["features"] = {"categorical": {"encode": "target"}, "selection": {"method": "kbest", "k": 3}}
    raw["data"]["split"] = "time"
    assert sorted(str(e) for e in config_problems(raw)) == [
        "compute: compute=dask splits rows at random; a time split and time features need the rows in time order (allowed: compute=local)",
        "features.categorical.encode: target encoding is cross-fitted on the whole train split and cannot fit on Dask "
        "(allowed: auto, onehot, ordinal or native with compute=dask, or compute=local)",
        "features.selection.method: kbest selection scores the whole feature matrix and cannot fit on Dask "
        "(allowed: none with compute=dask, or compute=local)",
        REFUSED,
    ]


@pytest.mark.cli
def test_mmp_validate_refuses_it_with_the_same_line() -> None:
    proc = mmp("validate", "compute=dask", "model=random_forest", "--no-data", check=False)
    assert proc.returncode == 2, proc.stderr
    assert [line for line in proc.stderr.splitlines() if line.startswith("error: ")] == [f"error: {REFUSED}"]
    assert "Traceback" not in proc.stderr


def test_prepare_reads_a_partitioned_dataset_and_splits_it_the_same_way_twice(client: Any, tmp_path: Path) -> None:
    from mmp.pipeline.dask_steps import prepare_on_dask, read_source

    frame = credit_default(ROWS, 3)
    source = tmp_path / "applications"
    source.mkdir()
    for i, part in enumerate((frame.iloc[:300], frame.iloc[300:])):
        part.to_parquet(source / f"part-{i}.parquet", index=False)
    data = dask_params().data.model_copy(update={"source_uri": str(source)})
    splits = [prepare_on_dask(read_source(data, 42, 2), data, 42) for _ in range(2)]
    first, again = splits
    assert len(first.train) + len(first.test) == ROWS
    assert set(first.train["customer_id"]).isdisjoint(first.test["customer_id"])
    pd.testing.assert_frame_equal(first.train, again.train)
    assert abs(len(first.test) / ROWS - data.test_size) < 0.06  # a seeded random split, not an exact count
    assert first.stats["rows"]["total"] == ROWS


def test_the_compute_group_defaults_to_local() -> None:
    assert ComputeConfig().engine == "local"
    with pytest.raises(MMPError, match=r"compute.engine"):
        parse(Params, {**small_params().model_dump(), "compute": {"engine": "spark"}})
