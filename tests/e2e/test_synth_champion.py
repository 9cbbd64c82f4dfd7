"""The default recipe's model scores rows sampled from the copula of its training rows as it scores
the real test split (the daily loop's `stable` days must look like real days), and the `drift`
scenario's day 7 is much worse than day 6 for it."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from sklearn.metrics import f1_score, roc_auc_score

from mmp.data import copula
from mmp.data.daily import SourceSettings, day_batch
from mmp.inference.scorer import Scorer
from tests.conftest import ROOT

pytestmark = pytest.mark.slow


def scores(scorer: Scorer, frame: pd.DataFrame) -> tuple[float, float]:
    out = scorer.predict(frame.drop(columns=["default"]))
    return roc_auc_score(frame["default"], out["proba_1"]), f1_score(frame["default"], out["proba_1"] >= 0.5)


def test_the_champion_scores_copula_rows_like_real_rows(default_run: Path, tmp_path: Path) -> None:
    train = pd.read_parquet(default_run / "data" / "prepared" / "train.parquet")
    test = pd.read_parquet(default_run / "data" / "prepared" / "test.parquet")
    copula.save(copula.fit(train, target="default", time_col="application_date", id_cols=("customer_id",)), tmp_path / "copula.json")
    scorer = Scorer.from_package(default_run / "models" / "package")
    real_auc, real_f1 = scores(scorer, test)
    source = SourceSettings(distribution=str(tmp_path / "copula.json"), rows=8000, scenario="drift")
    day6_auc, day6_f1 = scores(scorer, day_batch(source, date(2026, 1, 6), root=ROOT))
    assert abs(day6_auc - real_auc) < 0.04, (day6_auc, real_auc)
    assert abs(day6_f1 - real_f1) < 0.06, (day6_f1, real_f1)
    _, day7_f1 = scores(scorer, day_batch(source, date(2026, 1, 7), root=ROOT))
    assert day7_f1 < day6_f1 / 2, (day7_f1, day6_f1)
