"""``GET /metrics``: operational metrics in the Prometheus text format (``prometheus-client``).

- ``mmp_requests_total{endpoint, status, variant}``: every HTTP request; ``variant`` is who
  answered a /predict (``champion``, ``challenger``, ``mixed`` for a list both answered) and
  ``none`` for everything else (other endpoints, requests refused before scoring);
- ``mmp_request_duration_seconds{endpoint}``: a latency histogram;
- ``mmp_rows_scored_total{variant}``: records scored, ``shadow`` for the challenger's shadow scoring;
- ``mmp_enrichment_misses_total``: requested entities the online store did not hold;
- ``mmp_shadow_dropped_total``: shadow batches dropped because the shadow thread fell behind;
- ``mmp_model_info{variant, name, version}``: 1 per loaded model (0 once a hot swap replaced it).

Counting is a pure ASGI wrapper (no per-request task or body copy) plus a listener on scored
batches. ``endpoint`` is the route's path, or ``other`` for a path no route has (so a scanner
cannot grow the label set). Across ``--workers N`` processes, ``mmp serve`` sets
``PROMETHEUS_MULTIPROC_DIR`` (prometheus-client's multiprocess mode) to a temp directory it
removes at exit, and every worker's /metrics sums all workers. /metrics takes no bearer token:
Prometheus scrapers usually carry none, and it exposes counts and the model's name and version only.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mmp.serving.ab import ScoredBatch, Variant
from mmp.serving.loader import ModelRef

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
NONE = "none"  # the variant label of requests no model answered
OTHER = "other"  # the endpoint label of paths no route has
# Latency buckets (seconds): a one-record /predict takes about a millisecond, 10,000 records about a second.
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Where the route that scored a request notes who answered; the wrapper reads it after the call.
ANSWERED: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("mmp_answered", default=None)


def multiprocess() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


class Metrics:
    """The metrics of one app. Each app has its own registry (tests build many apps in one
    process); in multiprocess mode the values live in PROMETHEUS_MULTIPROC_DIR's files instead
    and a scrape reads all of them."""

    def __init__(self, models: Mapping[Variant, ModelRef]):
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "mmp_requests", "HTTP requests by endpoint, status and answering variant", ["endpoint", "status", "variant"], registry=r
        )
        self.latency = Histogram("mmp_request_duration_seconds", "request latency by endpoint", ["endpoint"], buckets=BUCKETS, registry=r)
        self.rows = Counter("mmp_rows_scored", "records scored by variant (shadow: scored, not returned)", ["variant"], registry=r)
        self.enrichment_misses = Counter("mmp_enrichment_misses", "requested entities the online store did not hold", registry=r)
        self.shadow_dropped = Counter("mmp_shadow_dropped", "shadow batches dropped: the shadow thread was behind", registry=r)
        self.info = Gauge(
            "mmp_model_info",
            "the loaded models (value 1; 0: swapped out)",
            ["variant", "name", "version"],
            registry=r,
            multiprocess_mode="max",
        )
        self.serving: dict[Variant, ModelRef] = {}
        for variant, ref in models.items():
            self.loaded(variant, ref)
        self._children: dict[tuple[Any, ...], Any] = {}  # see _child

    def loaded(self, variant: Variant, ref: ModelRef) -> None:
        """``ref`` serves ``variant`` now (at start, and after a hot swap: the old version reads 0)."""
        old = self.serving.get(variant)
        if old is not None:
            self.info.labels(variant, old.name, old.version).set(0)
        self.info.labels(variant, ref.name, ref.version).set(1)
        self.serving[variant] = ref

    def scored(self, batch: ScoredBatch) -> None:
        """A Service listener: count the batch's rows under its variant."""
        self._child(self.rows, batch.variant).inc(len(batch.records))

    def observe(self, endpoint: str, status: int, variant: str, seconds: float) -> None:
        self._child(self.requests, endpoint, str(status), variant).inc()
        self._child(self.latency, endpoint).observe(seconds)

    def _child(self, metric: Any, *labels: str) -> Any:
        """``metric.labels(*labels)``, built once: ``labels()`` takes a lock and builds a key on
        every call, which costs microseconds a request."""
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children.setdefault(key, metric.labels(*labels))
        return child

    def scrape(self) -> bytes:
        from prometheus_client import CollectorRegistry, generate_latest
        from prometheus_client.multiprocess import MultiProcessCollector

        if not multiprocess():
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return generate_latest(registry)


def answered(variant: str) -> None:
    """Note, for the request being served, which variant answered it."""
    note = ANSWERED.get()
    if note is not None:
        note[0] = variant


def install(app: FastAPI, metrics: Metrics) -> None:
    """Serve ``GET /metrics`` (unauthenticated, see the module doc) and count every request."""

    def scrape() -> Response:  # sync: a multiprocess scrape reads files, off the event loop
        from prometheus_client import CONTENT_TYPE_LATEST

        return Response(metrics.scrape(), media_type=CONTENT_TYPE_LATEST)

    app.add_api_route(
        "/metrics",
        scrape,
        methods=["GET"],
        summary="Operational metrics in the Prometheus text format (no token needed)",
        response_class=PlainTextResponse,
    )
    app.add_middleware(Instrumented, metrics=metrics, routes=app)


class Instrumented:
    """A pure ASGI middleware counting every HTTP request with its status, latency and variant."""

    def __init__(self, app: ASGIApp, metrics: Metrics, routes: FastAPI):
        self.app, self.metrics, self.routes = app, metrics, routes
        self._endpoints: frozenset[str] | None = None

    @property
    def endpoints(self) -> frozenset[str]:
        # Read at the first request, once every route (also those added after install) exists.
        if self._endpoints is None:
            self._endpoints = frozenset(getattr(route, "path", "") for route in self.routes.routes)
        return self._endpoints

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = [500]  # an exception that escapes the app is a 500 to the client
        note = [NONE]
        token = ANSWERED.set(note)

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            ANSWERED.reset(token)
            path = scope["path"]
            self.metrics.observe(path if path in self.endpoints else OTHER, status[0], note[0], time.perf_counter() - start)


@contextlib.contextmanager
def multiprocess_dir(env: MutableMapping[str, str]) -> Iterator[None]:
    """A PROMETHEUS_MULTIPROC_DIR for the block (removed afterwards), unless ``env`` already names
    one (then the caller owns it). Set it before prometheus-client is imported: the library picks
    its value store at import."""
    if env.get(MULTIPROC_ENV):
        yield
        return
    path = tempfile.mkdtemp(prefix="mmp-metrics-")
    env[MULTIPROC_ENV] = path
    try:
        yield
    finally:
        env.pop(MULTIPROC_ENV, None)
        shutil.rmtree(path, ignore_errors=True)
