"""The HTTP API in-process (FastAPI's TestClient): every endpoint, auth, limits, every 422 case,
and schemathesis fuzzing of the app's own OpenAPI allowing no 5xx."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from mmp.core.errors import MMPError
from mmp.core.settings import ServingSettings
from mmp.inference.scorer import Scorer
from mmp.serving.app import create_app
from tests.serving.conftest import example_record, free_port


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
    ],
)
def test_malformed_bodies_get_422(client: TestClient, content: bytes, ctype: str, message: str | None) -> None:
    res = client.post("/predict", content=content, headers={"content-type": ctype})
    assert res.status_code == 422, res.text
    assert res.json()["fields"]
    if message:
        assert message in json.dumps(res.json())


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b'{"region": "\xff"}', "malformed JSON: not UTF-8 (byte 0xff at position 12)"),
        (b"[" * 40_000 + b"]" * 40_000, "malformed JSON: nested too deeply"),
        (b'{"customer_id": ' + b"1" * 5000 + b"}", "malformed JSON: a number has more than 4300 digits"),
    ],
)
def test_bodies_the_json_parser_refuses_get_422_naming_why(client: TestClient, content: bytes, reason: str) -> None:
    """Not FastAPI's bare 400 "There was an error parsing the body"."""
    res = client.post("/predict", content=content, headers={"content-type": "application/json"})
    assert res.status_code == 422, res.text
    assert res.json()["fields"] == ["body"]
    assert res.json()["errors"] == [{"field": "body", "message": reason, "type": "json_invalid"}]


def test_a_json_decode_error_names_its_position_and_reason(client: TestClient) -> None:
    res = client.post("/predict", content=b'{"age": 4', headers={"content-type": "application/json"})
    assert res.json()["errors"][0]["message"] == "malformed JSON at position 9: Expecting ',' delimiter"


@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_body_not_sent_as_json_gets_415(client: TestClient, record: dict, ctype: str | None) -> None:
    headers = {"content-type": ctype} if ctype else {}
    res = client.post("/predict", content=json.dumps(record), headers=headers)
    assert res.status_code == 415, res.text
    assert res.json()["detail"] == f"content-type must be application/json (got {ctype or 'none'})"
    ok = client.post("/predict", content=json.dumps(record), headers={"content-type": "application/json; charset=utf-8"})
    assert ok.status_code == 200


def test_too_many_records_and_too_large_body(client: TestClient, record: dict) -> None:
    res = client.post("/predict", json=[record] * 51)
    assert res.status_code == 422 and res.json()["fields"] == ["body"] and "at most 50" in res.text
    assert client.post("/predict", json=[record] * 50).status_code == 200
    res = client.post("/predict", content=b"[" + b" " * 100_001 + b"]", headers={"content-type": "application/json"})
    assert res.status_code == 413


def test_max_records_fit_the_default_body_limit(package_dir: Path, record: dict) -> None:
    """The body limit is derived from max_records and the model's widest record, so the record
    limit can be reached: 10,000 records are scored, 10,001 get the 422 naming the limit."""
    from mmp.serving.request import body_bytes

    app = create_app(str(package_dir), settings=ServingSettings(), env={})
    service, client = app.state.service, TestClient(app)
    assert service.max_body_bytes == body_bytes(service.scorer.schema, 10_000)
    assert len(json.dumps([widest_record(service.scorer.schema)] * 10_000)) <= service.max_body_bytes
    res = client.post("/predict", json=[record] * 10_000)
    assert res.status_code == 200, res.text[:300]
    assert len(res.json()["predictions"]) == 10_000
    res = client.post("/predict", json=[record] * 10_001)
    assert res.status_code == 422 and "at most 10000" in res.text
    with pytest.raises(MMPError, match=r"serving.max_body_bytes: 1048576 bytes cannot hold serving.max_records = 10000 records"):
        create_app(str(package_dir), settings=ServingSettings(max_body_bytes=1_048_576), env={})


def widest_record(schema) -> dict:
    """Every column at the widest value its type takes (the contract's ranges aside)."""
    from mmp.serving.request import INT64

    widest = {"float": -2.2250738585072014e-308, "datetime": "2024-01-31T12:00:00.000000+00:00", "bool": False, "string": "\u20ac" * 10_000}
    return {
        c.name: max(c.allowed, key=lambda v: len(json.dumps(v))) if c.allowed else INT64[0] if c.dtype == "int" else widest[c.dtype]
        for c in schema.columns
    }


def test_the_token_is_checked_before_the_body_is_read(package_dir: Path, record: dict) -> None:
    """Without the token a request gets 401 whatever its body: no byte of it is read."""
    client = TestClient(create_app(str(package_dir), settings=ServingSettings(max_records=5), env={"MMP_API_TOKEN": "s3cret"}))
    bodies = [
        (b'{"region": "\xff"}', "application/json"),  # not UTF-8
        (b"[" * 2000, "application/json"),  # too deep
        (json.dumps(record).encode(), "text/plain"),  # wrong content type
        (b"[" + b" " * 2_000_000 + b"]", "application/json"),  # over the body limit
    ]
    for content, ctype in bodies:
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            res = client.post("/predict", content=content, headers={"content-type": ctype, **headers})
            assert res.status_code == 401, (content[:20], ctype, res.status_code, res.text[:200])
    auth = {"Authorization": "Bearer s3cret"}
    assert [client.post("/predict", content=c, headers={"content-type": t, **auth}).status_code for c, t in bodies] == [422, 422, 415, 413]


def test_bearer_auth_when_a_token_is_set(package_dir: Path, record: dict) -> None:
    client = TestClient(create_app(str(package_dir), settings=ServingSettings(), env={"MMP_API_TOKEN": "s3cret"}))
    assert client.post("/predict", json=record).status_code == 401
    assert client.post("/predict", json=record, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metadata").status_code == 401
    ok = client.post("/predict", json=record, headers={"Authorization": "Bearer s3cret"})
    assert ok.status_code == 200 and ok.json()["predictions"]
    assert client.get("/health").status_code == 200 and client.get("/ready").status_code == 200
    assert "s3cret" not in json.dumps(client.get("/metadata", headers={"Authorization": "Bearer s3cret"}).json())


def operations(spec: dict) -> dict[str, dict]:
    return {f"{method.upper()} {path}": op for path, item in spec["paths"].items() for method, op in item.items()}


PROTECTED = {"POST /predict", "POST /invoke", "POST /explain", "GET /metadata"}


def test_the_openapi_document_says_what_the_server_enforces(package_dir: Path, record: dict) -> None:
    """Without a token the document asks for no credentials and documents no 401, and a request
    without an Authorization header gets 200; with a token the protected operations require the
    bearer scheme, document 401, and get 401 without it."""
    open_app = TestClient(create_app(str(package_dir), settings=ServingSettings(), env={}))
    spec = open_app.get("/openapi.json").json()
    assert "securitySchemes" not in spec.get("components", {})
    for name, op in operations(spec).items():
        assert "security" not in op and "401" not in op["responses"], name
        assert not [p for p in op.get("parameters", []) if p["name"].lower() == "authorization"], name
    assert open_app.post("/predict", json=record).status_code == 200
    assert open_app.get("/metadata").status_code == 200

    locked = TestClient(create_app(str(package_dir), settings=ServingSettings(), env={"MMP_API_TOKEN": "s3cret"}))
    spec = locked.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"] == {
        "HTTPBearer": {"type": "http", "scheme": "bearer", "description": "the server's MMP_API_TOKEN"}
    }
    for name, op in operations(spec).items():
        if name in PROTECTED:
            assert op["security"] == [{"HTTPBearer": []}] and "401" in op["responses"], name
        else:
            assert "security" not in op, name
    assert locked.post("/predict", json=record).status_code == 401
    assert locked.get("/metadata").status_code == 401
    assert locked.get("/health").status_code == 200


@pytest.mark.parametrize("token", [None, "s3cret"])
def test_responses_conform_to_the_openapi_document(package_dir: Path, token: str | None) -> None:
    """schemathesis' own contract checks (documented status codes, response schemas, and that
    a documented auth is enforced) against the server with and without a token."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis.specs.openapi.checks import ignored_auth, status_code_conformance

    app = create_app(str(package_dir), settings=ServingSettings(), env={"MMP_API_TOKEN": token} if token else {})
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(max_examples=5, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def check(case) -> None:
            case.call_and_validate(headers=headers, checks=[status_code_conformance, ignored_auth])

        check()


def test_the_access_log_leaves_out_query_strings(app, record: dict) -> None:
    """A real uvicorn on 127.0.0.1, set up as `mmp serve` sets it up (the app first, then
    uvicorn's logging config): a token sent in a query string never reaches the access log."""
    import threading

    import httpx
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="info"))
    keep = Lines()
    logging.getLogger("uvicorn.access").addHandler(keep)  # after uvicorn's logging config (Config())
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started and thread.is_alive():
            thread.join(0.05)
        url = f"http://127.0.0.1:{server.config.port}"
        assert httpx.get(f"{url}/health?token=s3cret", timeout=10).status_code == 200
        assert httpx.post(f"{url}/predict?api_key=s3cret&x=1", json=record, timeout=10).status_code == 200
    finally:
        server.should_exit = True
        thread.join(10)
        logging.getLogger("uvicorn.access").removeHandler(keep)
    lines = keep.lines
    assert len(lines) == 2 and not [line for line in lines if "s3cret" in line or "?" in line], lines
    assert '"GET /health HTTP/1.1" 200' in lines[0] and '"POST /predict HTTP/1.1" 200' in lines[1]


class Lines(logging.Handler):
    """Keeps each formatted log line."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


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
    assert {op.path for op in operations} >= {"/predict", "/invoke", "/explain", "/metadata", "/health", "/ready", "/metrics"}
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
