"""The Gaussian copula of the daily synthetic source, on a few hundred rows of the embedded credit
data: the day seeds the rows, the artifact is versioned by its content, the samples are close to
the data, the label keeps its relation to the features, and every drift knob does what it says."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mmp.core.config import Contract, parse, read_contract
from mmp.core.errors import MMPError
from mmp.core.monitor import MonitorConfig
from mmp.data import copula
from mmp.data.contract import check_contract
from mmp.data.daily import DriftKnobs
from mmp.data.synthetic import credit_default
from mmp.inference.drift import column_kinds, drift_report
from tests.conftest import ROOT

DAY = date(2026, 1, 6)


@pytest.fixture(scope="module")
def real() -> pd.DataFrame:
    return credit_default(800, 0)


@pytest.fixture(scope="module")
def model(real: pd.DataFrame) -> copula.CopulaModel:
    return copula.fit(real, target="default", time_col="application_date", id_cols=("customer_id",))


def test_the_date_seeds_the_rows_and_they_keep_the_datas_columns_types_and_contract(model: copula.CopulaModel, real: pd.DataFrame) -> None:
    first, again, other = copula.sample(model, 300, DAY), copula.sample(model, 300, DAY), copula.sample(model, 300, date(2026, 1, 7))
    pd.testing.assert_frame_equal(first, again)
    assert not first.drop(columns=["application_date", "customer_id"]).equals(other.drop(columns=["application_date", "customer_id"]))
    assert list(first.columns) == list(real.columns)
    assert first.dtypes.to_dict() == real.dtypes.to_dict()
    assert (first["application_date"] == pd.Timestamp(DAY)).all()
    assert first["customer_id"].is_unique and not set(first["customer_id"]) & set(other["customer_id"])  # unique across days
    assert (first["first_credit_date"].dropna() <= pd.Timestamp(DAY)).all()  # a date before the day, as in the data
    check_contract(first, parse(Contract, read_contract("credit_default", ROOT)), ["default"])  # raises on any broken rule
    assert set(first["loan_term_months"]) <= {12, 24, 36, 60}


def test_the_artifact_round_trips_and_its_hash_is_its_version(model: copula.CopulaModel, real: pd.DataFrame, tmp_path: Path) -> None:
    digest = copula.save(model, tmp_path / "copula.json")
    loaded = copula.load(tmp_path / "copula.json")
    assert loaded.hash == digest == model.hash
    pd.testing.assert_frame_equal(copula.sample(loaded, 50, DAY), copula.sample(model, 50, DAY))
    refit = copula.fit(real, target="default", time_col="application_date", id_cols=("customer_id",))
    assert refit.hash == digest  # the fit is deterministic
    assert copula.fit(real.iloc[:-1], target="default", time_col="application_date", id_cols=("customer_id",)).hash != digest

    raw = json.loads((tmp_path / "copula.json").read_text())
    raw["model"]["rows"] += 1
    (tmp_path / "copula.json").write_text(json.dumps(raw))
    with pytest.raises(MMPError, match="does not match its sha256"):
        copula.load(tmp_path / "copula.json")


def test_samples_are_close_to_the_data_and_keep_the_label_relation(model: copula.CopulaModel, real: pd.DataFrame) -> None:
    synthetic = copula.sample(model, 800, DAY)
    report = copula.fidelity(real, synthetic, model)
    assert {c.column for c in report.columns} == set(model.names)
    fresh = copula.fidelity(real, credit_default(800, 1), model)  # real rows of another seed: the noise floor
    assert report.worst.value < 0.1, report.summary()
    assert report.correlation_distance < 1.6 * fresh.correlation_distance, f"{report.summary()}; fresh real rows: {fresh.summary()}"
    # columns shuffled independently: same marginals, no correlations left
    rng = np.random.default_rng(1)
    shuffled = real.apply(lambda s: s.sample(frac=1, random_state=rng).to_numpy())
    assert copula.fidelity(real, shuffled, model).correlation_distance > 2 * report.correlation_distance
    # the label still follows the risk features (per-class components keep them apart)
    for frame in (real, synthetic):
        by_label = frame.groupby("default")[["credit_score", "num_late_payments"]].mean()
        assert by_label.loc[1, "credit_score"] < by_label.loc[0, "credit_score"] - 15
        assert by_label.loc[1, "num_late_payments"] > by_label.loc[0, "num_late_payments"] + 0.3
    assert abs(synthetic["default"].mean() - real["default"].mean()) < 0.04


def test_day_seven_with_drift_is_measurably_worse_than_day_six(model: copula.CopulaModel, real: pd.DataFrame) -> None:
    knobs = DriftKnobs(mean_shift={"credit_score": 1.5, "num_late_payments": -1.5}, category_shift={"employment_type": 0.4})
    # dates move with the day by design (first_credit_date is days before the day): not compared
    kinds = column_kinds(real.drop(columns=["customer_id", "application_date", "first_credit_date", "default"]))
    day6 = drift_report(real, copula.sample(model, 400, DAY), kinds, MonitorConfig())
    day7 = drift_report(real, copula.sample(model, 400, date(2026, 1, 7), knobs=knobs), kinds, MonitorConfig())
    assert day6.drifted == []
    assert {"credit_score", "num_late_payments", "employment_type"} <= set(day7.drifted)
    mean_psi = [np.mean([c.statistics["psi"] for c in r.columns]) for r in (day6, day7)]
    assert mean_psi[1] > 3 * mean_psi[0]


def test_each_knob(model: copula.CopulaModel, real: pd.DataFrame) -> None:
    base = copula.sample(model, 2000, DAY)

    def day(**knobs: object) -> pd.DataFrame:
        return copula.sample(model, 2000, DAY, knobs=DriftKnobs.model_validate(knobs))

    # mean_shift: in standard deviations of the normal score, inside the training range
    shifted = day(mean_shift={"credit_score": 1.0})
    assert shifted["credit_score"].median() > base["credit_score"].quantile(0.75)
    assert shifted["credit_score"].max() <= real["credit_score"].max()
    assert shifted["income"].equals(base["income"])  # other columns untouched
    # category_shift: mass moves to the rarest category
    rarest = real["employment_type"].value_counts().idxmin()
    moved = day(category_shift=0.5)["employment_type"].value_counts(normalize=True)
    assert moved[rarest] > 0.45
    # label_shift 1.0: labels drawn whatever the features say, at the training rate
    scrambled = day(label_shift=1.0)
    gap = scrambled.groupby("default")["credit_score"].mean()
    assert abs(gap.loc[1] - gap.loc[0]) < 15
    assert abs(scrambled["default"].mean() - real["default"].mean()) < 0.03
    # correlation_shift 1.0: the features are independent (within each class)
    independent = day(correlation_shift=1.0)
    assert abs(independent[["credit_score", "num_late_payments"]].corr(method="spearman").iloc[0, 1]) < 0.1
    assert base[["credit_score", "num_late_payments"]].corr(method="spearman").iloc[0, 1] < -0.3


def test_one_joint_copula_and_bad_arguments(real: pd.DataFrame) -> None:
    joint = copula.fit(real, target="default", time_col="application_date", id_cols=("customer_id",), by_class=False)
    assert not joint.by_class and len(joint.components) == 1
    assert copula.sample(joint, 100, DAY)["default"].isin([0, 1]).all()
    with pytest.raises(MMPError, match="target: column 'nope' is not in the data"):
        copula.fit(real, target="nope")
    with pytest.raises(MMPError, match="needs a target column"):
        copula.fit(real, by_class=True)
    with pytest.raises(MMPError, match=r"class 1 has \d+ rows"):
        copula.fit(real.head(60), target="default", by_class=True)
    with pytest.raises(MMPError, match="knobs.mean_shift.nope: names a column"):
        copula.sample(joint, 10, DAY, knobs=DriftKnobs(mean_shift={"nope": 1.0}))
    with pytest.raises(MMPError, match="correlation_shift: must be a share between 0 and 1"):
        parse(DriftKnobs, {"correlation_shift": 2}, "knobs")
