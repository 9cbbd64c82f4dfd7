"""The HTTP API in-process (FastAPI's TestClient): every endpoint, auth, limits, every 422 case,
and schemathesis fuzzing of the app's own OpenAPI allowing no 5xx."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from mmp.core.errors import MMPError
from mmp.core.settings import ServingSettings
from mmp.inference.scorer import Scorer
from mmp.serving.app import create_app
from tests.serving.conftest import example_record


@pytest.fixture(scope="module")
def app(package_dir: Path):
    return create_app(str(package_dir), settings=ServingSettings(max_body_bytes=100_000, max_records=50), env={})


@pytest.fixture(scope="module")
def client(app) -> TestClient:
    return TestClient(app)


@pytest.fixture(scope="module")
def record(package_dir: Path) -> dict:
    return example_record(package_dir)


def expected(package_dir: Path, records: list[dict]) -> pd.DataFrame:
    """What the one Scorer's DataFrame entry point (the pyfunc's) says for the same raw rows."""
    frame = pd.DataFrame(records)
    for col in ("first_credit_date", "application_date"):
        frame[col] = pd.to_datetime(frame[col])
    return Scorer.from_package(package_dir).predict(frame)


def test_predict_one_record_matches_the_pyfunc_entry_point(client: TestClient, package_dir: Path, record: dict) -> None:
    res = client.post("/predict", json=record)
    assert res.status_code == 200, res.text
    body = res.json()
    want = expected(package_dir, [record])
    assert body["model_name"] == "package" and len(body["model_version"]) == 32
    assert body["predictions"] == want["prediction"].tolist()
    assert body["probabilities"][0]["1"] == pytest.approx(want["proba_1"].iloc[0], abs=1e-12)
    assert body["probabilities"][0]["0"] + body["probabilities"][0]["1"] == pytest.approx(1.0)


def test_predict_a_list_and_the_invoke_alias(client: TestClient, package_dir: Path, record: dict) -> None:
    records = [record, {**record, "credit_score": 420.0, "num_late_payments": 6, "employment_type": None, "first_credit_date": None}]
    res = client.post("/invoke", json=records)
    assert res.status_code == 200, res.text
    want = expected(package_dir, records)
    assert res.json()["predictions"] == want["prediction"].tolist()
    assert [p["1"] for p in res.json()["probabilities"]] == pytest.approx(want["proba_1"].tolist(), abs=1e-12)
    assert res.json() == client.post("/predict", json=records).json()


def test_health_ready_metadata_docs(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready").json()
    assert ready["ready"] is True and ready["model_name"] == "package"
    meta = client.get("/metadata").json()
    assert meta["metrics"]["roc_auc"] > 0.6 and meta["gate"] == "unknown"
    assert meta["featurizer_path"] == "numpy"
    assert {c["name"] for c in meta["schema"]["columns"]} >= {"age", "region", "customer_id"}
    assert client.get("/docs").status_code == 200


def test_openapi_shows_every_field_with_its_type(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    props = spec["components"]["schemas"]["Record"]["properties"]
    assert props["region"]["enum"] == ["north", "south", "east", "west", "central"]
    assert props["age"]["anyOf"][0] == {"type": "number", "minimum": 18.0, "maximum": 100.0}
    assert props["num_late_payments"]["type"] == "integer"
    assert props["first_credit_date"]["anyOf"][0]["format"] == "date-time"
    assert set(spec["components"]["schemas"]["Record"]["required"]) == {"loan_amount", "loan_term_months", "num_late_payments", "region"}
    assert spec["components"]["schemas"]["Record"]["additionalProperties"] is False


@pytest.mark.parametrize(
    ("patch", "field", "kind"),
    [
        ({"age": "42"}, "age", "float_type"),  # a string for a number: strict types
        ({"num_late_payments": 1.5}, "num_late_payments", "int_type"),
        ({"num_late_payments": True}, "num_late_payments", "int_type"),
        ({"age": 5.0}, "age", "greater_than_equal"),  # outside the contract's range
        ({"region": "mars"}, "region", "literal_error"),  # not an allowed category
        ({"region": None}, "region", "literal_error"),  # null where the contract says not null
        ({"first_credit_date": "yesterday"}, "first_credit_date", "value_error"),
        ({"first_credit_date": 1700000000}, "first_credit_date", "datetime_type"),
        ({"customer_id": 2**70}, "customer_id", "less_than_equal"),
        ({"shoe_size": 44}, "shoe_size", "extra_forbidden"),  # unknown field
    ],
)
def test_bad_values_get_422_naming_the_field(client: TestClient, record: dict, patch: dict, field: str, kind: str) -> None:
    res = client.post("/predict", json={**record, **patch})
    assert res.status_code == 422, res.text
    body = res.json()
    assert body["fields"] == [field]
    assert body["errors"][0]["type"] == kind


def test_missing_required_field_is_named(client: TestClient, record: dict) -> None:
    res = client.post("/predict", json={k: v for k, v in record.items() if k not in ("region", "loan_amount")})
    assert res.status_code == 422
    assert res.json()["fields"] == ["loan_amount", "region"]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_inf_are_rejected(client: TestClient, record: dict, literal: str) -> None:
    body = json.dumps({**record, "income": 0.0}).replace('"income": 0.0', f'"income": {literal}')
    res = client.post("/predict", content=body, headers={"content-type": "application/json"})
    assert res.status_code == 422, res.text
    assert res.json()["fields"] == ["income"] and res.json()["errors"][0]["type"] == "finite_number"


def test_errors_in_a_list_name_the_record_index(client: TestClient, record: dict) -> None:
    res = client.post("/predict", json=[record, {**record, "age": "old"}])
    assert res.status_code == 422 and res.json()["fields"] == ["1.age"]


@pytest.mark.parametrize(
    ("content", "ctype", "message"),
    [
        (b'{"age": 4', "application/json", "malformed JSON"),
        (b"[]", "application/json", "at least 1"),
        (b"42", "application/json", "JSON object"),
        (b"age=42", "text/plain", None),
    ],
)
def test_malformed_bodies_get_422(client: TestClient, content: bytes, ctype: str, message: str | None) -> None:
    res = client.post("/predict", content=content, headers={"content-type": ctype})
    assert res.status_code == 422, res.text
    assert res.json()["fields"]
    if message:
        assert message in json.dumps(res.json())


def test_too_many_records_and_too_large_body(client: TestClient, record: dict) -> None:
    res = client.post("/predict", json=[record] * 51)
    assert res.status_code == 422 and res.json()["fields"] == ["body"] and "at most 50" in res.text
    assert client.post("/predict", json=[record] * 50).status_code == 200
    res = client.post("/predict", content=b"[" + b" " * 100_001 + b"]", headers={"content-type": "application/json"})
    assert res.status_code == 413


def test_bearer_auth_when_a_token_is_set(package_dir: Path, record: dict) -> None:
    client = TestClient(create_app(str(package_dir), settings=ServingSettings(), env={"MMP_API_TOKEN": "s3cret"}))
    assert client.post("/predict", json=record).status_code == 401
    assert client.post("/predict", json=record, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metadata").status_code == 401
    ok = client.post("/predict", json=record, headers={"Authorization": "Bearer s3cret"})
    assert ok.status_code == 200 and ok.json()["predictions"]
    assert client.get("/health").status_code == 200 and client.get("/ready").status_code == 200
    assert "s3cret" not in json.dumps(client.get("/metadata", headers={"Authorization": "Bearer s3cret"}).json())


def test_env_var_contract_of_the_image(package_dir: Path, record: dict) -> None:
    """The Dockerfile runs `uvicorn --factory mmp.serving.app:create_app` with the model in env vars."""
    client = TestClient(create_app(settings=ServingSettings(), env={"MMP_MODEL": str(package_dir)}))
    assert client.post("/predict", json=record).status_code == 200
    with pytest.raises(MMPError, match="no model given"):
        create_app(settings=ServingSettings(), env={})
    with pytest.raises(MMPError, match="MLFLOW_MODEL_ALIAS"):
        create_app(settings=ServingSettings(), env={"MLFLOW_MODEL_NAME": "credit-default"})


def test_a_model_that_cannot_load_fails_at_start(tmp_path: Path) -> None:
    with pytest.raises(MMPError, match="neither an existing directory nor a model URI"):
        create_app(str(tmp_path / "nope"), settings=ServingSettings(), env={})
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "MLmodel").write_text("flavors: {}\n")
    with pytest.raises(MMPError, match="not an mmp model package"):
        create_app(str(tmp_path / "broken"), settings=ServingSettings(), env={})


@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_no_input_produces_a_server_error(app, mode: str) -> None:
    """Fuzz every operation of the app's own OpenAPI (valid and invalid inputs): no 5xx.
    Driven through hypothesis directly (schemathesis' pytest plugin needs an older pytest)."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings

    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/predict", "/invoke", "/metadata", "/health", "/ready"}
    seen: list[int] = []
    for operation in operations:
        if mode == "negative" and not operation.body:
            continue  # nothing to make invalid (GET endpoints without parameters)

        @settings(max_examples=40, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(generation_mode=schemathesis.GenerationMode(mode)))
        def check(case) -> None:
            response = case.call()
            seen.append(response.status_code)
            assert response.status_code < 500, f"{case.method} {case.path} -> {response.status_code}: {response.text[:500]}"

        check()
    assert len(seen) >= 40, "the fuzzer really ran"
    assert any(code == 422 for code in seen) if mode == "negative" else any(code == 200 for code in seen)
