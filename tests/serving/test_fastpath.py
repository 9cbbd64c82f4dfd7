"""The fast path of POST /predict (mmp.serving.fastpath): it answers a valid request as the route
does, byte for byte, and hands every other request to the route with its body intact."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest
from fastapi import HTTPException, Request
from fastapi.responses import Response
from fastapi.testclient import TestClient
from pydantic import BaseModel, ConfigDict, Field
from starlette.types import Message, Receive, Scope, Send

from mmp.core.settings import ServingSettings
from mmp.serving.app import create_app
from mmp.serving.fastpath import PredictFastPath
from tests.serving.conftest import example_record


class Point(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    x: float


class Inner:
    """The route behind the fast path: records the body it was handed."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        self.bodies.append(body)
        await Response(b"route", status_code=299)(scope, receive, send)


async def answer(body: Any, request: Request) -> Response:
    if isinstance(body, Point) and body.x < 0:
        raise HTTPException(422, detail={"message": "x must not be negative", "fields": ["x"]})
    return Response(json.dumps({"x": body.x}).encode(), media_type="application/json")


def call(
    app: PredictFastPath, body: bytes, headers: dict[str, str] | None = None, path: str = "/predict", parts: int = 1
) -> tuple[int, bytes]:
    """One request through ``app``; the body sent in ``parts`` messages."""
    given = {"content-type": "application/json", "content-length": str(len(body))} if headers is None else headers
    scope = {"type": "http", "method": "POST", "path": path, "headers": [(k.encode(), v.encode()) for k, v in given.items()]}
    size = -(-len(body) // parts) if body else 1
    chunks = [body[i : i + size] for i in range(0, len(body), size)] or [b""]
    messages = iter([{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)])
    sent: list[Message] = []

    async def receive() -> Message:
        return next(messages, {"type": "http.disconnect"})

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


@pytest.fixture
def inner() -> Inner:
    return Inner()


Body = Point | Annotated[list[Point], Field(min_length=1, max_length=3)]  # as the app builds its body type


def fast(inner: Inner, token: bytes | None = None, enabled: bool = True) -> PredictFastPath:
    return PredictFastPath(inner, ("/predict",), Body, answer, 64, token, lambda: enabled)


def test_a_valid_body_is_answered_without_the_route(inner: Inner) -> None:
    assert call(fast(inner), b'{"x": 1.5}', parts=3) == (200, b'{"x": 1.5}')
    assert inner.bodies == []


@pytest.mark.parametrize(
    ("body", "headers", "path", "enabled", "why"),
    [
        (b'{"x": "1"}', None, "/predict", True, "the route's body type refuses it (strict)"),
        (b'{"x": 1.5, "y": 2}', None, "/predict", True, "an unknown field"),
        (b"[]", None, "/predict", True, "an empty list"),
        (b'{"x": NaN}', None, "/predict", True, "JSON orjson refuses (json.loads takes NaN)"),
        (b'{"x": 1e999}', None, "/predict", True, "a number orjson refuses"),
        (b'{"x": 1.5', None, "/predict", True, "malformed JSON"),
        (b"\xff", None, "/predict", True, "not UTF-8"),
        (b'{"x": 1.5}', {"content-type": "application/json"}, "/predict", True, "no declared length"),
        (b'{"x": 1.5}', {"content-type": "application/json", "content-length": "65"}, "/predict", True, "longer than the limit"),
        (b'{"x": 1.5}', {"content-type": "text/plain", "content-length": "10"}, "/predict", True, "not JSON"),
        (b'{"x": 1.5}', None, "/explain", True, "another path"),
        (b'{"x": 1.5}', None, "/predict", False, "an online store merges features first"),
    ],
)
def test_anything_else_goes_to_the_route_with_its_body(
    inner: Inner, body: bytes, headers: dict[str, str] | None, path: str, enabled: bool, why: str
) -> None:
    assert call(fast(inner, enabled=enabled), body, headers, path, parts=2) == (299, b"route"), why
    assert inner.bodies == [body], why


@pytest.mark.parametrize(
    ("authorization", "answered_by_route"),
    [("Bearer s3cret", False), ("bearer s3cret", False), ("Bearer wrong", True), ("Basic s3cret", True), ("", True)],
)
def test_with_a_token_only_an_authorized_request_takes_the_fast_path(inner: Inner, authorization: str, answered_by_route: bool) -> None:
    body = b'{"x": 1.5}'
    headers = {"content-type": "application/json", "content-length": str(len(body)), "authorization": authorization}
    status, _ = call(fast(inner, token=b"s3cret"), body, headers)
    assert (status == 299) is answered_by_route


def test_an_http_exception_of_the_endpoint_is_answered_as_fastapi_does(inner: Inner) -> None:
    status, body = call(fast(inner), b'{"x": -1.0}')
    assert (status, json.loads(body)) == (422, {"detail": {"message": "x must not be negative", "fields": ["x"]}})
    assert inner.bodies == []


@pytest.fixture(scope="module")
def client(package_dir: Path) -> Iterator[TestClient]:
    app = create_app(str(package_dir), settings=ServingSettings(max_body_bytes=100_000, max_records=50), env={})
    with TestClient(app) as client:
        yield client


def test_the_fast_answer_is_the_routes_byte_for_byte(client: TestClient, package_dir: Path) -> None:
    """A chunked body declares no length: the route answers it. The same record with its length
    declared takes the fast path. Both answers (status, headers, body) must be equal."""
    record = example_record(package_dir)
    for body in (record, [record, {**record, "credit_score": 420.0, "employment_type": None}]):
        data = json.dumps(body).encode()
        headers = {"content-type": "application/json", "x-request-id": "same-id"}
        fast_answer = client.post("/predict", content=data, headers=headers)
        route_answer = client.post("/predict", content=iter([data]), headers=headers)
        assert "content-length" not in route_answer.request.headers  # the route's path indeed
        assert fast_answer.status_code == route_answer.status_code == 200
        assert fast_answer.headers == route_answer.headers
        assert fast_answer.content == route_answer.content
