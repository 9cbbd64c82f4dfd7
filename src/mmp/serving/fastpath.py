"""The fast path of ``POST /predict``: a valid request answered without FastAPI's per-request
machinery (route matching over every route, the exception and exit-stack middlewares, the
dependency solver, the stdlib JSON parse of the body). Those cost about as much as parsing,
validating and scoring one record together, so a one-record /predict ran at 0.4 of the
requests/s of the constant-JSON /health of the same process (issue 16 asks for 0.7).

The fast path answers only what the route would answer the same way, and hands everything else
to the route untouched (with the body it read, replayed): it needs a declared body length within
the route's limit, a JSON content type, the bearer token when one is set, no online store (the
route merges stored features first), and a body that ``orjson`` parses and the route's own body
type validates. orjson accepts a subset of what the route's ``json.loads`` accepts (no NaN, no
integers over 64 bits, no lone surrogates), with the same values, so an accepted body is the
route's body. A body either refuses goes to the route, which answers its 4xx as before: every
error response keeps one source. A valid body is answered by the route's own endpoint function
(``answer``), and an HTTPException it raises (a value the model refuses: 422) by FastAPI's
handler, as in the route.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import orjson
from fastapi import HTTPException, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import Response
from pydantic import TypeAdapter, ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

Answer = Callable[[Any, Request], Awaitable[Response]]


def is_json(content_type: str | None) -> bool:
    """application/json or application/*+json (parameters such as charset allowed)."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    kind, _, subtype = media.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


def bearer_matches(authorization: str | None, token: bytes) -> bool:
    """The header carries ``token`` as HTTPBearer reads it (scheme ``bearer`` in any case, then
    the credentials); compared in constant time, like the route's check."""
    scheme, _, credentials = (authorization or "").partition(" ")
    given = credentials.encode() if scheme.lower() == "bearer" and credentials else b""
    return hmac.compare_digest(given, token)


class PredictFastPath:
    """Pure ASGI middleware in front of the router for the ``paths`` of the predict route."""

    def __init__(
        self,
        app: ASGIApp,
        paths: Iterable[str],
        body_type: Any,
        answer: Answer,
        max_body_bytes: int,
        token: bytes | None,
        enabled: Callable[[], bool],
    ):
        self.app, self.paths, self.answer = app, frozenset(paths), answer
        self.body = TypeAdapter(body_type)  # the route's body type: the same validation
        self.max_body_bytes, self.token, self.enabled = max_body_bytes, token, enabled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not (scope["type"] == "http" and scope["method"] == "POST" and scope["path"] in self.paths and self.takes(scope)):
            await self.app(scope, receive, send)
            return
        messages, body = await read_body(receive)
        value = self.parse(body) if body is not None else None
        if value is None:  # the route answers it, from the same bytes
            await self.app(scope, replay(messages, receive), send)
            return
        request = Request(scope, receive)
        try:
            response = await self.answer(value, request)
        except HTTPException as err:
            response = await http_exception_handler(request, err)
        await response(scope, receive, send)

    def takes(self, scope: Scope) -> bool:
        """What the route checks before reading the body, passed: a length within its limit, a
        JSON body, the token; and no online store."""
        headers = dict(scope["headers"])  # lower-case names (ASGI); a repeated header: its last value
        length = headers.get(b"content-length", b"")
        if not (length.isdigit() and int(length) <= self.max_body_bytes) or not self.enabled():
            return False
        if not is_json(headers.get(b"content-type", b"").decode("latin-1")):
            return False
        return self.token is None or bearer_matches(headers.get(b"authorization", b"").decode("latin-1"), self.token)

    def parse(self, body: bytes) -> Any:
        """The validated body, or None where the route must answer (its own error, from its own parse)."""
        try:
            return self.body.validate_python(orjson.loads(body))
        except (orjson.JSONDecodeError, ValidationError):
            return None


async def read_body(receive: Receive) -> tuple[list[Message], bytes | None]:
    """The request's messages up to the last body part, and the body (None when the client left)."""
    messages: list[Message] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages, None
        if not message.get("more_body", False):
            return messages, b"".join(m.get("body", b"") for m in messages)


def replay(messages: list[Message], receive: Receive) -> Receive:
    """``receive`` as if nothing had been read: the messages already read first."""
    pending = list(messages)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed
