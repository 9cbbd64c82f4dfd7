"""Train-serve parity of feature views and time features: for an entity and a time, the row the
training join built equals what the server's enrichment takes from the online store after
`mmp materialize --as-of` that time (a SQLite store in process; a real Redis through the CLI)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
import yaml
from fastapi.testclient import TestClient

from mmp.core.config import Params, parse
from mmp.core.settings import OnlineStoreSettings, ServingSettings
from mmp.data.sources import join_views, load_source
from mmp.ops.params import compose
from mmp.pipeline import steps
from mmp.serving.app import create_app
from mmp.serving.enrichment import materialize, open_store
from mmp.serving.loader import fetched, load_scorer
from tests.conftest import ROOT, mmp

KEY = "customer_id"


@dataclass(frozen=True)
class Trained:
    params_file: Path
    prepared: Path
    package: Path
    online: list[str]
    row: pd.DataFrame  # one prepared training row: the entity, its time and its joined features


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    """The transactions recipe (a feature view and time features) through the pipeline's steps
    on 1,500 rows with a small LightGBM, its files as the stages write them."""
    root = tmp_path_factory.mktemp("parity")
    raw = yaml.safe_load(compose(ROOT, ["+experiment=transactions", "data.rows=1500"]))
    raw["model"] = {"class_path": "lightgbm.LGBMClassifier", "hyperparameters": {"n_estimators": 20, "n_jobs": 1, "verbose": -1}}
    (root / "params.yaml").write_text(yaml.safe_dump(raw))
    params = parse(Params, raw)
    prepared = steps.prepare(
        join_views(load_source(params.data, params.seed), params.data, params.seed), params.data, 0, params.features.time
    )
    (root / "prepared").mkdir()
    prepared.train.to_parquet(root / "prepared" / "train.parquet")
    prepared.test.to_parquet(root / "prepared" / "test.parquet")
    (root / "prepared" / "schema.json").write_text(prepared.schema.model_dump_json())
    featurized = steps.featurize(prepared.train, prepared.test, params)
    model = steps.train(featurized.train, params)
    metrics = steps.evaluate(featurized.test, model, params)
    steps.package(root / "package", featurized.featurizer, model, prepared.schema, metrics, params, datetime(2024, 1, 1))
    online = prepared.schema.online_features
    train = prepared.train
    # an entity with a profile and a history at that time, alone at its time
    ties = train.groupby([KEY, "ts"])[KEY].transform("size")
    row = train[train["risk_score"].notna() & train["amount_lag_2"].notna() & (train["amount_count_7d"] > 0) & (ties == 1)].iloc[[0]]
    return Trained(root / "params.yaml", root / "prepared", root / "package", online, row)


def check_parity(trained: Trained, store_settings: OnlineStoreSettings) -> None:
    row = trained.row
    stored = open_store(store_settings, KEY).get_many([int(row[KEY].iloc[0])])[int(row[KEY].iloc[0])]
    assert [k for k in stored if k != KEY] == trained.online
    assert pd.Series({k: stored[k] for k in trained.online}, dtype="float64").tolist() == pytest.approx(
        row[trained.online].iloc[0].tolist()
    )
    client = TestClient(create_app(str(trained.package), settings=ServingSettings(online_store=store_settings), env={}))
    # the request carries the entity and the event's own values; the store adds the rest
    request = {KEY: int(row[KEY].iloc[0]), "amount": float(row["amount"].iloc[0]), "category": row["category"].iloc[0]}
    res = client.post("/predict", json=request)
    assert res.status_code == 200, res.text
    with fetched(str(trained.package)) as ref:
        expected = load_scorer(ref).predict(row)["proba_1"].iloc[0]
    assert res.json()["probabilities"][0]["1"] == pytest.approx(expected, abs=1e-12)
    # a feature of the store is what the server takes; the request still wins over it
    # (both ends of the feature's range: the trees may send the stored value and one extreme to one leaf)
    answers = [client.post("/predict", json={**request, "amount_lag_1": value}) for value in (-1e6, 1e6)]
    assert all(r.status_code == 200 for r in answers)
    assert any(r.json()["probabilities"][0]["1"] != pytest.approx(expected, abs=1e-9) for r in answers)


def test_the_training_join_equals_the_served_features_from_a_sql_store(
    trained: Trained, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    monkeypatch.setenv("MMP_ONLINE_STORE", "sql")
    monkeypatch.setenv("MMP_ONLINE_STORE_URL", url)
    written, kind, key = materialize(trained.prepared, trained.params_file, pd.Timestamp(trained.row["ts"].iloc[0]))
    assert (kind, key) == ("sql", KEY) and written == 300
    check_parity(trained, OnlineStoreSettings(kind="sql", url=url))
    # long after: the profile is past its TTL (null), no event falls in the windows
    materialize(trained.prepared, trained.params_file, pd.Timestamp("2030-01-01"))
    stored = open_store(OnlineStoreSettings(kind="sql", url=url), KEY).get_many([1])[1]
    assert stored["risk_score"] is None and stored["amount_count_7d"] == 0 and stored["days_since_previous"] > 3000


@pytest.mark.integration
def test_the_training_join_equals_the_served_features_from_redis(trained: Trained, redis_prefix: tuple[str, str]) -> None:
    url, prefix = redis_prefix
    when = pd.Timestamp(trained.row["ts"].iloc[0]).isoformat()
    env = {"MMP_ONLINE_STORE": "redis", "MMP_ONLINE_STORE_URL": url, "MMP_ONLINE_STORE_PREFIX": prefix}
    args = ("materialize", "--prepared", str(trained.prepared), "--params", str(trained.params_file), "--as-of", when)
    assert "materialized 300 entities into the redis store (key customer_id)" in mmp(*args, **env).stdout
    check_parity(trained, OnlineStoreSettings(kind="redis", url=url, prefix=prefix))


def test_a_bad_as_of_is_one_line() -> None:
    from mmp.cli.materialize import as_of
    from mmp.core.errors import MMPError

    assert as_of("2021-06-30T12:00+02:00") == pd.Timestamp("2021-06-30 10:00")  # naive UTC, like the prepared times
    with pytest.raises(MMPError, match=r"^--as-of: 'soon' is not a time"):
        as_of("soon")
