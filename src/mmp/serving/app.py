"""The serving app factory: ``uvicorn --factory mmp.serving.app:create_app`` (the Docker image) or
``mmp serve``. The model is loaded once, when the app is built, so a model that cannot load stops
the server at start instead of answering 503 forever.

Endpoints: ``POST /predict`` (one record or a list), ``POST /invoke`` (alias), ``POST /explain``
(contributions by raw column, :mod:`mmp.serving.explain`), ``GET /health``, ``GET /ready``,
``GET /metadata``, ``GET /metrics`` (Prometheus, see metrics), ``/docs``. Bearer auth when
``MMP_API_TOKEN`` is set. With a challenger, records are routed as serving.ab says.

A protected route checks, in this order and before it reads a byte of the body: the bearer token
(401), the content type (415), the body size (413); then the body is parsed (422 naming why it
cannot be) and validated (422 naming each field).
"""

import functools
import gc
import logging
import operator
import os
import re
import sys
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

import orjson
from fastapi import FastAPI, HTTPException, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPBearer
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from mmp.core.errors import MMPError
from mmp.core.quiet import quiet_mlflow
from mmp.core.settings import ServingSettings, load_settings
from mmp.data.schema import InputSchema
from mmp.inference import predlog
from mmp.inference.wrapper import ModelWrapper
from mmp.serving import ab, enrichment, metrics, swap
from mmp.serving.explain import add_explain_route
from mmp.serving.fastpath import PredictFastPath, bearer_matches, is_json
from mmp.serving.loader import ModelRef, load_scorer, resolved
from mmp.serving.request import body_bytes, record_model, required_features

log = logging.getLogger("mmp.serving")
THREADPOOL_ROWS = 64  # bigger requests are scored off the event loop
PREDICT_PATHS = ("/predict", "/invoke")


class PredictResponse(BaseModel):
    model_name: str
    model_version: str
    predictions: list[Any] = Field(description="one prediction per input record, in order")
    probabilities: list[dict[str, float]] | None = Field(default=None, description="class -> probability per record (classifiers)")
    variant: Literal["champion", "challenger", "mixed"] = Field(description="who answered: mixed when a list was answered by both")
    variants: list[Literal["champion", "challenger"]] | None = Field(
        default=None, description="who answered each record (list requests only)"
    )
    effects: list[float] | None = Field(default=None, description="estimated treatment effect per record (uplift models)")


def create_app(model: str | None = None, settings: ServingSettings | None = None, env: Mapping[str, str] | None = None) -> FastAPI:
    """Build the app around a loaded model (``model`` or the env-var contract, see loader)."""
    quiet_mlflow()  # also the entry point of `uvicorn --factory` (the container), not only `mmp serve`
    env = os.environ if env is None else env
    settings = settings or load_settings().serving
    if env.get("MMP_PREDICTION_LOG"):  # the shorthand: a directory or a SQLAlchemy URL
        settings = settings.model_copy(update={"prediction_log": settings.prediction_log.pointed_at(env["MMP_PREDICTION_LOG"])})
    with resolved(model, env) as ref:  # the scorer holds the model in memory: a download can go
        scorer = load_scorer(ref)
    with ab.resolved_challenger(None, env) as challenger:
        service = Service(ref, scorer, settings, env.get("MMP_API_TOKEN") or None, challenger, env)
    service.poller = swap.follower(ref, scorer, env, service.swap)  # started with the server (build_app's lifespan)
    app = build_app(service)
    quiet_query_strings()
    gc.collect()
    gc.freeze()  # the loaded model is long-lived: keep the collector from rescanning it (p99)
    log.info("serving %s version %s (featurizer backend: %s)", ref.name, ref.version, scorer.backend)
    if service.ab is not None:
        chal = service.ab.challenger.ref
        how = "in shadow" if service.ab.config.shadow else f"on {service.ab.config.split:.0%} of records"
        log.info("challenger %s version %s %s", chal.name, chal.version, how)
    return app


class Service:
    """The loaded model plus what the endpoints need around it."""

    def __init__(
        self,
        ref: ModelRef,
        scorer: ModelWrapper,
        settings: ServingSettings,
        token: str | None,
        challenger: ModelRef | None = None,
        env: Mapping[str, str] | None = None,
    ):
        self.settings = settings
        # The one reference every request reads once: swap() replaces it (a hot swap), and a
        # request already scoring finishes on the model it read.
        self.champion = ab.Model(ref, scorer)
        self.poller: swap.AliasPoller | None = None
        self.token = token.encode() if token else None
        schema = scorer.schema
        # what a request may take from the online store: the schema's online features (feature
        # views and time features, as materialized), else any input column
        self.columns = set(schema.online_features or schema.names)
        store_cfg = settings.online_store
        self.key = enrichment.entity_key(store_cfg, schema) if store_cfg.kind != "none" else None
        self.store = enrichment.open_store(store_cfg, self.key) if self.key else None
        if self.store is not None:
            self.store.check()  # an unreachable store or a missing table stops the server at start
        self.Record = record_model(schema, self.key)
        self.Full = record_model(schema, None, name="EnrichedRecord")  # what a merged record must satisfy
        self.required = required_features(schema)
        self.max_body_bytes = body_limit(settings, schema)
        self.ab = ab.load(challenger, schema, self.key, os.environ if env is None else env)
        models: dict[ab.Variant, ModelRef] = {ab.CHAMPION: ref} | ({ab.CHALLENGER: self.ab.challenger.ref} if self.ab else {})
        self.metrics = metrics.Metrics(models)
        # Called with every ScoredBatch (each variant's records of a request, shadow ones from the
        # shadow thread): where the variant of each scored record is known. The prediction log hooks here.
        self.listeners: list[Callable[[ab.ScoredBatch], None]] = [self.metrics.scored]
        # the prediction log: every input column, and the entity key the rows can be labelled by
        self.logged = schema.names
        self.entity = self.key or (schema.id_cols[0] if schema.id_cols else None)
        self.predlog = predlog.open_log(settings.prediction_log, schema)
        if self.predlog is not None:
            self.listeners.append(self.log)

    @property
    def ref(self) -> ModelRef:
        return self.champion.ref

    @property
    def scorer(self) -> ModelWrapper:
        return self.champion.scorer

    def swap(self, ref: ModelRef, scorer: ModelWrapper) -> None:
        """Serve another version of the champion from the next request on (swap.AliasPoller
        has checked that it takes the same inputs)."""
        self.champion = ab.Model(ref, scorer)
        self.metrics.loaded(ab.CHAMPION, ref)

    def close(self) -> None:
        """At shutdown: stop following the alias, write every queued log row."""
        if self.poller is not None:
            self.poller.stop()
        if self.predlog is not None:
            self.predlog.close()

    def log(self, batch: ab.ScoredBatch) -> None:
        """One queue put per scored batch: the writer thread reads the records' columns."""
        assert self.predlog is not None  # a listener only when the log is on
        inputs = predlog.RecordColumns(batch.records, self.logged)
        entry = predlog.Entry(
            inputs,
            batch.raw,
            len(batch.records),
            batch.ref.name,
            batch.ref.version,
            batch.variant,
            batch.request_id or predlog.new_request_id(),
            self.entity,
            positions=batch.positions,
        )
        self.predlog.submit(entry)

    async def authorize(self, request: Request) -> None:
        """401 unless the request carries the configured bearer token (no token: all pass)."""
        if self.token is None:
            return
        if not bearer_matches(request.headers.get("authorization"), self.token):  # the fast path's rule too
            raise HTTPException(401, detail="missing or invalid bearer token", headers={"WWW-Authenticate": "Bearer"})

    def metadata(self) -> dict[str, Any]:
        schema = self.scorer.schema.model_dump(mode="json", exclude={"example"})
        return {
            **self.model_metadata(self.champion),
            "model_version": self.ref.version,  # the version answering /predict now (it moves with a hot swap)
            "follows": None if self.poller is None else self.poller.describe(),
            "schema": schema,
            "featurizer_path": self.scorer.backend,
            "online_store": self.settings.online_store.kind,
            "challenger": None if self.ab is None else self.model_metadata(self.ab.challenger),
            "ab": None if self.ab is None else self.ab.describe(),
            "prediction_log": self.predlog.stats if self.predlog else None,
        }

    @staticmethod
    def model_metadata(model: ab.Model) -> dict[str, Any]:
        meta = model.scorer.metadata
        return {
            "name": model.ref.name,
            "version": model.ref.version,
            "source": model.ref.source,
            "kind": model.scorer.kind,
            "model_class": meta.get("model_class"),
            "threshold": meta.get("threshold"),
            "metrics": meta.get("metrics", {}),
            "gate": model.ref.gate,
        }

    async def records(self, body: Any) -> list[Any]:
        records = body if isinstance(body, list) else [body]
        if self.store is None:
            return records
        return await run_in_threadpool(self.enrich, self.store, records)

    def enrich(self, store: enrichment.OnlineStore, records: list[BaseModel]) -> list[Any]:
        key = store.key  # the entity key the store was opened with (self.key)
        requested = [r.model_dump(exclude_unset=True) for r in records]
        try:
            stored = store.get_many(list(dict.fromkeys(r[key] for r in requested)))
        except enrichment.StoreUnavailable as err:
            raise HTTPException(503, detail=f"online feature store unavailable ({err})") from None
        missing = [r[key] for r in requested if r[key] not in stored]
        if missing:
            self.metrics.enrichment_misses.inc(len(missing))
            status = self.settings.online_store.missing_entity_status
            raise HTTPException(status, detail={"message": f"no stored features for {key} {missing[:10]}", "fields": [key]})
        valid: list[BaseModel] = []
        errors: list[dict[str, Any]] = []
        for i, record in enumerate(enrichment.merge(requested, stored, key, self.columns)):
            try:
                valid.append(self.Full.model_validate(record))
            except ValidationError as err:
                prefix = (i,) if len(records) > 1 else ()
                errors.extend({**e, "loc": (*prefix, *e["loc"])} for e in err.errors(include_input=False, include_url=False))
        if errors:
            raise RequestValidationError(errors)
        return valid

    def predict(self, records: list[Any], many: bool = True, request_id: str | None = None) -> dict[str, Any]:
        """Score the records, each by the variant the router assigns (all champion without a
        challenger); ``many``: the body was a list (the response then names each record's variant)."""
        variants, groups = ab.route(self.ab, records)
        parts = [self.score(v, [records[i] for i in pos] if len(groups) > 1 else records, pos, request_id) for v, pos in groups.items()]
        if self.ab is not None and self.ab.config.shadow:
            shadow = lambda: self.score(ab.SHADOW, records, parts[0].positions, request_id)  # noqa: E731
            self.ab.submit_shadow(shadow, self.metrics.shadow_dropped.inc)
        answering = parts[0].ref if len(parts) == 1 else self.ref  # mixed: the champion's identity, per record in "variants"
        response: dict[str, Any] = {"model_name": answering.name, "model_version": answering.version, **ab.combine(parts, len(records))}
        response["variant"] = next(iter(groups)) if len(groups) == 1 else ab.MIXED
        if many:
            response["variants"] = variants
        metrics.answered(response["variant"])
        return response

    def score(self, variant: ab.Variant, records: list[Any], positions: list[int], request_id: str | None = None) -> ab.ScoredBatch:
        """One variant's records scored, handed to the listeners."""
        model = self.champion if variant == ab.CHAMPION or self.ab is None else self.ab.challenger
        raw = self.run(model.scorer, records)
        batch = ab.ScoredBatch(variant, model.ref, records, positions, as_json(raw), raw, request_id)
        for listener in self.listeners:
            listener(batch)
        return batch

    def run(self, scorer: ModelWrapper, records: list[Any]) -> dict[str, Any]:
        """The scorer's output columns (arrays) for the records; a value it refuses is a 422."""
        columns = dict(zip(scorer.features, zip(*map(field_values(tuple(scorer.features)), records), strict=True), strict=True))
        try:
            return scorer.predict_columns(columns, len(records))
        except (ValueError, MMPError) as err:  # e.g. a category the fitted encoder refuses
            raise HTTPException(422, detail={"message": str(err), "fields": []}) from None


@functools.lru_cache(maxsize=16)
def field_values(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """A record's values of ``names`` in one C call (``operator.attrgetter``), always a tuple:
    per-field Python loops cost several microseconds a request."""
    get = operator.attrgetter(*names)
    return get if len(names) > 1 else lambda record: (get(record),)


def as_json(out: Mapping[str, Any]) -> dict[str, Any]:
    """A model's output columns as the response's JSON lists: predictions (an uplift model's are
    its estimated effects, also named as such; any JSON value, an LLM's answers are strings) and
    class probabilities."""
    response: dict[str, Any] = {}
    if "effect" in out:
        response["predictions"] = response["effects"] = listed(out["effect"])
    elif "prediction" in out:
        response["predictions"] = listed(out["prediction"])
    else:
        response["predictions"] = [dict(zip(out, row, strict=True)) for row in zip(*(listed(v) for v in out.values()), strict=True)]
    probas = [k for k in out if k.startswith("proba_")]
    if probas:
        values = [listed(out[k]) for k in probas]
        names = [k.removeprefix("proba_") for k in probas]
        response["probabilities"] = [dict(zip(names, row, strict=True)) for row in zip(*values, strict=True)]
    return response


def listed(values: Any) -> list[Any]:
    """One output column as a JSON list: numpy arrays and pandas columns (numbers, or objects
    such as strings), or a plain list a kind returned."""
    return values.tolist() if hasattr(values, "tolist") else list(values)


def body_limit(settings: ServingSettings, schema: InputSchema) -> int:
    """The body limit: ``max_body_bytes`` when set, else what ``max_records`` records of this
    model need at their widest. A set limit that cannot hold ``max_records`` records stops the
    server at start: the two limits must agree."""
    needed = body_bytes(schema, settings.max_records)
    if settings.max_body_bytes is None:
        return needed
    if settings.max_body_bytes < needed:
        raise MMPError(
            "serving.max_body_bytes",
            f"{settings.max_body_bytes} bytes cannot hold serving.max_records = {settings.max_records} records of this model",
            f"at least {needed}, a smaller max_records, or leave max_body_bytes unset to derive it",
        )
    return settings.max_body_bytes


# Reads the Authorization header; Service.authorize decides. Published in the OpenAPI document only
# when a token is configured, so the document says what the server enforces.
BEARER = HTTPBearer(auto_error=False, description="the server's MMP_API_TOKEN")


class GuardedRoute(APIRoute):
    """A route that refuses, before reading its body: a request without the token (401), then,
    for a route that takes a body, one whose content type is not JSON (415). And it reports a
    body that is not JSON as the 422 naming why: FastAPI answers a body that json.loads refuses
    with anything but a JSONDecodeError (bytes that are not UTF-8, nesting deeper than the
    parser's recursion limit, an integer over Python's digit limit) with a bare 400."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.app = self.guard(self.app)  # outside the route's body limit and body parsing

    def guard(self, app: ASGIApp) -> ASGIApp:
        takes_body = self.body_field is not None

        async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
            request = Request(scope)  # headers only: the body is left unread
            await request.app.state.service.authorize(request)
            if takes_body:
                require_json(request.headers.get("content-type"))
            await app(scope, receive, send)

        return guarded

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except StarletteHTTPException as err:  # what FastAPI raises (its own HTTPException is a subclass)
                if err.status_code == 400 and err.__cause__ is not None:  # FastAPI's "error parsing the body"
                    raise unparseable(err.__cause__) from None
                raise

        return handle


def require_json(content_type: str | None) -> None:
    """415 unless the content type is JSON (application/json or application/*+json)."""
    if not is_json(content_type):
        raise HTTPException(415, detail=f"content-type must be application/json (got {(content_type or 'none')[:100]})")


def unparseable(cause: BaseException) -> RequestValidationError:
    """The 422 for a body json.loads refused with ``cause``."""
    if isinstance(cause, UnicodeDecodeError):
        reason = f"not UTF-8 (byte 0x{cause.object[cause.start]:02x} at position {cause.start})"
    elif isinstance(cause, RecursionError):
        reason = "nested too deeply"
    elif isinstance(cause, ValueError) and "digits" in str(cause):
        reason = f"a number has more than {sys.get_int_max_str_digits()} digits"
    else:
        reason = type(cause).__name__
    return RequestValidationError([{"type": "json_invalid", "loc": ("body",), "msg": "JSON decode error", "ctx": {"error": reason}}])


def request_id(request: Request) -> str:
    """The client's X-Request-ID (up to 128 characters of letters, digits and ``._:-``), else a
    new one. Returned in the response, so labels can be joined to the logged rows later."""
    given = request.headers.get("x-request-id", "")
    return given if REQUEST_ID.fullmatch(given) else predlog.new_request_id()


REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def build_app(service: Service) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if service.poller is not None:
            service.poller.start()  # in the serving process (each --workers process), not in `mmp serve`'s check
        yield
        await run_in_threadpool(service.close)  # uvicorn's SIGTERM ends here after in-flight requests

    app = FastAPI(
        lifespan=lifespan,
        title="mmp model server",
        version=service.ref.version,
        description=f"Model {service.ref.name} version {service.ref.version}. Typed from the model's data contract.",
    )
    app.state.service = service
    # The security scheme is published only when the server enforces it.
    security = [Security(BEARER)] if service.token else []
    responses = {code: r for code, r in ERROR_RESPONSES.items() if code != 401 or service.token}

    # The record model is built at runtime from the model's schema (pydantic create_model), so
    # the body type exists only at runtime: FastAPI reads it, mypy cannot check it.
    Record = service.Record
    limits = Field(min_length=1, max_length=service.settings.max_records)
    Body = Record | Annotated[list[Record], limits]  # type: ignore[valid-type]  # runtime-built model

    async def answer(body: Any, request: Request) -> Response:
        """The endpoint's work on a validated body: the route's and the fast path's (fastpath)."""
        records = await service.records(body)
        many = isinstance(body, list)
        rid = request_id(request)
        if len(records) > THREADPOOL_ROWS:
            result = await run_in_threadpool(service.predict, records, many, rid)
        else:
            result = service.predict(records, many, rid)
        return Response(orjson.dumps(result), media_type="application/json", headers={"X-Request-ID": rid})

    async def predict(body: Body, request: Request) -> Response:  # type: ignore[valid-type]  # runtime-built body type (above)
        return await answer(body, request)

    for path, summary in zip(PREDICT_PATHS, ("Predict one record or a list of records", "Alias of /predict"), strict=True):
        app.router.add_api_route(
            path,
            predict,
            methods=["POST"],
            summary=summary,
            response_model=PredictResponse,
            dependencies=security,
            responses=responses,
            max_body_size=service.max_body_bytes,  # route-level: enforced after GuardedRoute's checks
            route_class_override=GuardedRoute,
        )

    add_explain_route(
        app,
        lambda: service.champion,
        service.records,
        Body,
        dependencies=security,
        responses=responses,
        max_body_size=service.max_body_bytes,
        route_class_override=GuardedRoute,
    )

    @app.get("/health", summary="Liveness: the process answers")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready", summary="Readiness: the model is loaded")
    async def ready() -> dict[str, Any]:
        return {"ready": True, "model_name": service.ref.name, "model_version": service.ref.version}

    async def metadata() -> dict[str, Any]:
        return service.metadata()

    app.router.add_api_route(
        "/metadata",
        metadata,
        methods=["GET"],
        summary="Model name, version, metrics, schema and gate result",
        dependencies=security,
        responses={code: r for code, r in responses.items() if code == 401},
        route_class_override=GuardedRoute,
    )

    # added before the metrics middleware, so that one (outermost) counts fast-path answers too
    app.add_middleware(
        PredictFastPath,
        paths=PREDICT_PATHS,
        body_type=Body,
        answer=answer,
        max_body_bytes=service.max_body_bytes,
        token=service.token,
        enabled=lambda: service.store is None,
    )
    metrics.install(app, service.metrics)
    app.exception_handler(RequestValidationError)(validation_error)  # typed per exception class, unlike add_exception_handler
    return app


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "missing or invalid bearer token (when MMP_API_TOKEN is set)"},
    404: {"description": "no stored features for the entity (online store, when so configured)"},
    413: {"description": "request body larger than serving.max_body_bytes"},
    415: {"description": "the content type is not application/json"},
    503: {"description": "the online feature store is unreachable"},
    422: {"description": "invalid input: the response names each field, the rule and the allowed values"},
}


async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    """422 naming every bad field. The offending input is not echoed back: it may hold NaN (not
    JSON) or be large."""
    errors = field_errors(exc.errors(), exc.body)
    return JSONResponse({"detail": "invalid request", "fields": sorted({e["field"] for e in errors}), "errors": errors}, status_code=422)


def field_errors(raw: Any, body: Any) -> list[dict[str, str]]:
    """pydantic errors as {field, message, type}. The body is a union (one record | a list), and
    pydantic reports both branches: keep only the branch matching what was sent."""
    errors = []
    for err in raw:
        loc = list(err.get("loc", ()))
        loc = loc[1:] if loc[:1] == ["body"] else loc
        if err.get("type") == "json_invalid":
            where = f" at position {loc[0]}" if loc else ""
            reason = (err.get("ctx") or {}).get("error")
            message = f"malformed JSON{where}" + (f": {reason}" if reason else "")
            errors.append({"field": "body", "message": message, "type": "json_invalid"})
            continue
        if loc and isinstance(loc[0], str) and (loc[0].startswith("list[") or loc[0] in ("Record", "EnrichedRecord")):
            branch, loc = loc[0], loc[1:]
            if not isinstance(body, list | dict):
                errors.append(
                    {"field": "body", "message": "must be a JSON object (one record) or a non-empty list of objects", "type": "body_type"}
                )
                continue
            if isinstance(body, list) != branch.startswith("list["):
                continue
        errors.append(
            {"field": ".".join(map(str, loc)) or "body", "message": err.get("msg", "invalid"), "type": err.get("type", "invalid")}
        )
    return list({(e["field"], e["message"]): e for e in errors}.values())


class QueryStringFree(logging.Filter):
    """uvicorn's access line holds the request target, query string included, and a client may
    put a secret there (``?token=...``): log the path alone."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):  # client, method, path, version, status
            record.args = (*args[:2], args[2].split("?", 1)[0], *args[3:])
        return True


def quiet_query_strings() -> None:
    """Install QueryStringFree on uvicorn's access logger (once per process; uvicorn's logging
    setup replaces its handlers, not its filters)."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, QueryStringFree) for f in access.filters):
        access.addFilter(QueryStringFree())
