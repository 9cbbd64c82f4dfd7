"""The prediction log in a PostgreSQL table: rows appended by the writer, labels joined in one
transaction (by entity key), unknown keys reported; the table holds one test's rows only."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mmp.core.settings import PredictionLogSettings
from mmp.data import prediction_log as L
from mmp.inference.predlog import Entry, open_log
from mmp.ops.monitoring.labels import label_sql
from tests.integration.conftest import PG_URL

pytestmark = pytest.mark.integration
URL = PG_URL


def test_sql_log_appends_rows_and_takes_labels(table: str) -> None:
    settings = PredictionLogSettings(kind="sql", url=URL, table=table, flush_seconds=0.05)
    log = open_log(settings)
    assert log is not None
    for i in range(20):
        outputs = {"prediction": np.array([i % 2]), "proba_0": np.array([0.4]), "proba_1": np.array([0.6])}
        log.submit(Entry({"customer_id": [i], "age": [30.0 + i]}, outputs, 1, "m", "1", "champion", f"r{i}", "customer_id"))
    log.close()
    assert log.stats["written"] == 20
    rows = L.read_sql_log(URL, table)
    assert sorted(rows[L.REQUEST_ID]) == sorted(f"r{i}" for i in range(20)) and rows[L.SCORE].tolist() == [0.6] * 20
    labels = pd.DataFrame({L.ENTITY_KEY: ["3", "4", "404"], L.LABEL: [1, 0, 1]})
    result = label_sql(URL, table, labels, [L.ENTITY_KEY])
    assert (result.matched, result.rows, result.unknown) == (2, 2, ["404"])
    rows = L.read_sql_log(URL, table).set_index(L.ENTITY_KEY)
    assert rows.loc["3", L.LABEL] == 1 and rows.loc["4", L.LABEL] == 0 and rows[L.LABEL].notna().sum() == 2
