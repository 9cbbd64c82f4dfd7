"""Online feature enrichment from a real SQL table (PostgreSQL) and a real Redis, filled by
``mmp materialize`` from prepared data; request values win; a missing entity is a 404 or 422."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from mmp.core.settings import OnlineStoreSettings, ServingSettings
from mmp.serving.app import create_app
from mmp.serving.loader import fetched, load_scorer
from tests.conftest import mmp
from tests.serving.conftest import sample_frame

pytestmark = pytest.mark.integration


@pytest.fixture
def prepared(package_dir: Path, tmp_path: Path) -> Path:
    """A prepared-data directory as the prepare stage writes it (train/test + schema.json); the
    same customer appears twice so that the latest application must win."""
    out = tmp_path / "prepared"
    out.mkdir()
    frame = sample_frame(300, seed=21)
    older = frame.iloc[[0]].assign(application_date=pd.Timestamp("2000-01-01"), income=1.0)
    pd.concat([frame.iloc[:200], older], ignore_index=True).to_parquet(out / "train.parquet")
    frame.iloc[200:].to_parquet(out / "test.parquet")
    shutil.copy(package_dir / "artifacts" / "schema.json", out / "schema.json")
    return out


def materialize(prepared: Path, **env: str) -> str:
    return mmp("materialize", "--prepared", str(prepared), **env).stdout


def check_enrichment(client: TestClient, package_dir: Path, prepared: Path) -> None:
    frame = pd.concat([pd.read_parquet(prepared / f"{s}.parquet") for s in ("train", "test")]).drop_duplicates("customer_id", keep="first")
    with fetched(str(package_dir)) as ref:
        scorer = load_scorer(ref)
    row = frame[frame["customer_id"] == 1]
    res = client.post("/predict", json={"customer_id": 1})
    assert res.status_code == 200, res.text
    assert res.json()["probabilities"][0]["1"] == pytest.approx(scorer.predict(row)["proba_1"].iloc[0], abs=1e-12)
    # the request's own values win over stored ones (also an explicit null)
    res = client.post("/predict", json=[{"customer_id": 1, "credit_score": 350.0, "income": None}, {"customer_id": 2}])
    assert res.status_code == 200, res.text
    patched = pd.concat([row.assign(credit_score=350.0, income=float("nan")), frame[frame["customer_id"] == 2]])
    assert [p["1"] for p in res.json()["probabilities"]] == pytest.approx(scorer.predict(patched)["proba_1"].tolist(), abs=1e-12)
    # a missing entity, an invalid override and a missing key are clear client errors
    res = client.post("/predict", json=[{"customer_id": 1}, {"customer_id": 999_999}])
    assert res.status_code == 404 and "999999" in res.text and res.json()["detail"]["fields"] == ["customer_id"]
    assert "\nmmp_enrichment_misses_total 1.0\n" in client.get("/metrics").text  # counted in /metrics
    res = client.post("/predict", json={"customer_id": 1, "region": "mars"})
    assert res.status_code == 422 and res.json()["fields"] == ["region"]
    res = client.post("/predict", json={"region": "south"})
    assert res.status_code == 422 and res.json()["fields"] == ["customer_id"]


def test_enrichment_from_a_sql_table(package_dir: Path, prepared: Path, pg_url: str) -> None:
    assert "materialized 300 entities into the sql store" in materialize(prepared, MMP_ONLINE_STORE="sql", MMP_ONLINE_STORE_URL=pg_url)
    from sqlalchemy import create_engine, text

    engine = create_engine(pg_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT income FROM mmp_online_features WHERE customer_id = 1")).scalar() != 1.0  # latest row won
    engine.dispose()
    store = OnlineStoreSettings(kind="sql", url=pg_url)
    client = TestClient(create_app(str(package_dir), settings=ServingSettings(online_store=store), env={}))
    assert client.get("/metadata").json()["online_store"] == "sql"
    spec = client.get("/openapi.json").json()["components"]["schemas"]["Record"]
    assert spec["required"] == ["customer_id"]  # everything else may come from the store
    check_enrichment(client, package_dir, prepared)


def test_enrichment_from_redis_and_422_for_a_missing_entity(package_dir: Path, prepared: Path, redis_prefix: tuple[str, str]) -> None:
    url, prefix = redis_prefix
    out = materialize(prepared, MMP_ONLINE_STORE="redis", MMP_ONLINE_STORE_URL=url, MMP_ONLINE_STORE_PREFIX=prefix)
    assert "materialized 300 entities into the redis store" in out
    import redis

    stored = json.loads(redis.Redis.from_url(url).get(f"{prefix}1"))
    assert set(stored) >= {"customer_id", "age", "region", "first_credit_date"} and stored["income"] != 1.0
    client = TestClient(
        create_app(
            str(package_dir), settings=ServingSettings(online_store=OnlineStoreSettings(kind="redis", url=url, prefix=prefix)), env={}
        )
    )
    check_enrichment(client, package_dir, prepared)
    strict = OnlineStoreSettings(kind="redis", url=url, prefix=prefix, missing_entity_status=422)
    client = TestClient(create_app(str(package_dir), settings=ServingSettings(online_store=strict), env={}))
    assert client.post("/predict", json={"customer_id": 424242}).status_code == 422


def test_materialize_without_a_store_is_a_clear_error(prepared: Path) -> None:
    proc = mmp("materialize", "--prepared", str(prepared), check=False)
    assert proc.returncode == 2 and "serving.online_store.kind: no online store is configured" in proc.stderr


def test_a_store_without_its_table_stops_the_server_at_start(package_dir: Path, pg_url: str) -> None:
    from mmp.core.errors import MMPError

    with pytest.raises(MMPError, match="run `mmp materialize` first"):
        create_app(str(package_dir), settings=ServingSettings(online_store=OnlineStoreSettings(kind="sql", url=pg_url)), env={})
    with pytest.raises(MMPError, match="cannot reach Redis"):
        create_app(
            str(package_dir), settings=ServingSettings(online_store=OnlineStoreSettings(kind="redis", url="redis://127.0.0.1:1/0")), env={}
        )
