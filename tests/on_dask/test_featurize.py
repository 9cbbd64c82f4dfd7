"""compute=dask featurize: the featurizer is fitted from statistics reduced over the train
partitions on the cluster, and is the same kind of fitted scikit-learn Pipeline as a local fit,
transforming rows like it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator

from mmp.core.config import Params, parse
from mmp.modeling.features import category_codes
from mmp.pipeline import steps
from tests.serving.conftest import sample_frame, small_params

ROWS = 400

# Tolerances, in the features' own units (standard deviations, IQRs for robust scaling, months
# for an imputed month):
# - statistics Dask reduces exactly (sums, counts, minima, maxima, category counts) agree with
#   the local fit to float32 rounding (the sums are added in another order);
# - medians and quartiles are approximate: each partition reports its percentiles at every
#   whole percentile and Dask merges them (mmp.modeling.dask_features.quantiles), so a
#   quantile's rank is off by well under a percent: near the centre of these columns that is
#   a few hundredths of a standard deviation. Measured on these 400 rows: 0.006 for the
#   standardized median-imputed columns, 0.03 for the median month of a date (a whole number
#   locally, interpolated between partitions here), 0.052 where clip bounds, centre and scale
#   are all quartiles (iqr + robust). 0.05 and 0.1 allow that and still catch a wrong statistic.
CASES = {
    "default recipe: median, standard, one-hot with rare categories merged": ({}, 0.05),
    "native codes, mean, min-max, z-score clip, counted rare categories, interactions": (
        {
            "numeric": {"impute": "mean", "scale": "minmax", "clip": "zscore"},
            "categorical": {"encode": "native", "min_frequency": 30, "impute": "constant"},
            "interactions": {"enabled": True},
        },
        1e-5,
    ),
    "quartiles (iqr clip, robust scale), ordinal with at most 3 categories": (
        {"numeric": {"clip": "iqr", "scale": "robust"}, "categorical": {"encode": "ordinal", "max_categories": 3}},
        0.1,
    ),
}


def params_with(features: dict[str, Any]) -> Params:
    raw = small_params().model_dump()
    raw.update(features=features, compute={"engine": "dask", "partitions": 2})
    return parse(Params, raw)


def fitted_kinds(featurizer: Any) -> list[str]:
    """Every fitted step's class, depth first, as the package would hold them."""
    kinds = []
    for _, pipe, _ in featurizer.named_steps["columns"].transformers_:
        if isinstance(pipe, BaseEstimator):
            kinds += [type(pipe).__name__, *(type(step).__name__ for _, step in getattr(pipe, "steps", []))]
    return kinds


@pytest.mark.parametrize("features", CASES, ids=range(len(CASES)))
def test_featurizer_fitted_on_dask_transforms_rows_like_the_local_one(client: Any, features: str, tmp_path: Path) -> None:
    import dask.dataframe as dd

    from mmp.pipeline.dask_steps import featurize_on_dask, write_partitions

    config, tolerance = CASES[features]
    params = params_with(config)
    prepared = steps.prepare(sample_frame(ROWS, 7), params.data, params.seed)
    local = steps.featurize(prepared.train, prepared.test, params)
    split = {name: dd.from_pandas(getattr(prepared, name), npartitions=2) for name in ("train", "test")}
    on_dask = featurize_on_dask(split["train"], split["test"], params)

    assert type(on_dask.featurizer) is type(local.featurizer)
    assert fitted_kinds(on_dask.featurizer) == fitted_kinds(local.featurizer)
    assert write_partitions(on_dask.test, tmp_path / "test.parquet", client) == len(prepared.test)
    for rows, expected in ((on_dask.train.compute(), local.train), (pd.read_parquet(tmp_path / "test.parquet"), local.test)):
        rows = rows.reset_index(drop=True)
        assert list(rows.columns) == list(expected.columns) and (rows.dtypes == expected.dtypes).all()
        encoded = [c for c in expected.columns if c.startswith(("employment_type", "region", "home_ownership"))]
        assert encoded, "the case encodes categories"
        pd.testing.assert_frame_equal(rows[encoded], expected[encoded])  # categories and their counts are exact
        numbers = [c for c in expected.columns if c not in encoded and c not in category_codes(expected)]
        gap = np.abs(rows[numbers].to_numpy("float64") - expected[numbers].to_numpy("float64"))
        assert np.nanmax(gap) <= tolerance, (features, dict(zip(numbers, gap.max(axis=0), strict=True)))
        assert (np.isnan(rows[numbers].to_numpy("float64")) == np.isnan(expected[numbers].to_numpy("float64"))).all()
