"""Alerts against real servers the tests start on 127.0.0.1: a webhook that fails twice before
it answers, one that never answers in time, and an SMTP server (aiosmtpd) that requires a login.
A failing sink never loses the alert from the events store."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import date
from email import message_from_bytes
from email import policy as email_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from mmp.core.settings import AlertSettings, EmailSettings, WebhookSettings
from mmp.ops.alerts import Alert, Attempt, raise_alert
from mmp.ops.events import EventStore

ALERT = Alert(
    key="2026-01-07/alert",
    day=date(2026, 1, 7),
    reason="no retrain attempt passed the gate",
    model="credit-default",
    metric="f1",
    value=0.6123,
    threshold=0.75,
    attempts=(
        Attempt(number=1, strategy="seed", value=0.58, version="4", run_id="run-aaa"),
        Attempt(number=2, strategy="tune", value=0.6123, version="5", run_id="run-bbb"),
        Attempt(number=3, strategy="window", value=0.6, run_id="run-ccc"),
    ),
)


class Hook(BaseHTTPRequestHandler):
    """Answers 500 to the first ``fail`` POSTs, then 200; sleeps ``delay`` seconds first."""

    fail, delay, bodies = 0, 0.0, []  # type: ignore[var-annotated]

    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        type(self).bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        time.sleep(self.delay)
        status = 500 if len(self.bodies) <= self.fail else 200
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[tuple[str, type[Hook]]]:
    handler = type("H", (Hook,), {"bodies": [], "fail": 0, "delay": 0.0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/alerts", handler
    server.shutdown()
    server.server_close()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EventStore]:
    with EventStore(f"sqlite:///{tmp_path}/events.db") as s:
        yield s


def test_webhook_is_retried_with_backoff_until_it_answers(hook: tuple[str, type[Hook]], store: EventStore, caplog: Any) -> None:
    url, handler = hook
    handler.fail = 2
    settings = AlertSettings(webhook=WebhookSettings(url=url, retries=3, backoff_s=0.05, timeout_s=2))
    start = time.monotonic()
    outcome = raise_alert(ALERT, store, settings)
    assert time.monotonic() - start >= 0.05 + 0.1, "waited backoff_s, then twice that"
    assert outcome.new and outcome.failed == []
    assert [d.detail for d in outcome.deliveries if d.sink == "webhook"] == ["HTTP 200 after 3 tries"]
    assert len(handler.bodies) == 3
    body = handler.bodies[-1]
    assert body["value"] == 0.6123 and body["threshold"] == 0.75 and body["metric"] == "f1"
    assert [a["run_id"] for a in body["attempts"]] == ["run-aaa", "run-bbb", "run-ccc"]
    assert body["text"].startswith(
        "[mmp critical] credit-default 2026-01-07: no retrain attempt passed the gate; f1 0.6123 (threshold 0.75)"
    )
    assert [r.getMessage() for r in caplog.records if r.name == "mmp.alerts"] == [ALERT.summary()], "one log line"
    (event,) = store.list(kind="alert")
    assert event.key == ALERT.key and event.payload["attempts"][2]["run_id"] == "run-ccc"

    # The day re-run: the store keeps one alert, the webhook hears it again (at least once).
    again = raise_alert(ALERT, store, settings)
    assert not again.new and len(store.list(kind="alert")) == 1 and len(handler.bodies) == 4


def test_a_webhook_that_never_answers_in_time_fails_in_one_line_and_the_alert_stays(
    hook: tuple[str, type[Hook]], store: EventStore, caplog: Any
) -> None:
    url, handler = hook
    handler.delay = 1.0
    settings = AlertSettings(webhook=WebhookSettings(url=url, retries=1, backoff_s=0, timeout_s=0.2))
    start = time.monotonic()
    outcome = raise_alert(ALERT, store, settings)
    assert time.monotonic() - start < 1.5, "each try gave up after timeout_s"
    (failed,) = outcome.failed
    assert failed.sink == "webhook" and failed.detail.startswith("webhook failed after 2 tries: last no answer"), failed
    assert url not in failed.detail, "a webhook URL carries its token: never printed"
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert errors == [f"alert 2026-01-07/alert: the webhook sink failed: {failed.detail}"]
    assert [e.key for e in store.list(kind="alert")] == [ALERT.key]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_email_reaches_a_local_smtp_server_with_login(store: EventStore) -> None:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    received: list[Any] = []

    class Inbox:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
            received.append((session.authenticated, envelope))
            return "250 OK"

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        return AuthResult(success=(auth_data.login, auth_data.password) == (b"mmp", b"s3cret"))

    port = free_port()
    controller = Controller(Inbox(), hostname="127.0.0.1", port=port, authenticator=authenticate, auth_require_tls=False)
    controller.start()
    try:
        email = EmailSettings.model_validate(
            {"host": "127.0.0.1", "port": str(port), "to": "ops@example.com, ml@example.com", "username": "mmp", "password": "s3cret"}
        )
        outcome = raise_alert(ALERT, store, AlertSettings(email=email))
    finally:
        controller.stop()
    down = raise_alert(ALERT, store, AlertSettings(email=email))  # the server is gone
    assert outcome.failed == [] and [d.detail for d in outcome.deliveries if d.sink == "email"] == ["sent to 2 recipients"]
    ((authenticated, envelope),) = received
    assert authenticated and envelope.rcpt_tos == ["ops@example.com", "ml@example.com"]
    message = message_from_bytes(envelope.content, policy=email_policy.default)
    assert message["Subject"].strip() == "[mmp critical] credit-default 2026-01-07: no retrain attempt passed the gate"
    mail = message.get_content()
    assert "f1: 0.6123 (threshold 0.75)" in mail and "attempts: 3" in mail
    assert "attempt 2 (tune), f1 0.6123, version 5, MLflow run run-bbb" in mail
    assert "attempt 3 (window), f1 0.6, MLflow run run-ccc" in mail
    (failed,) = down.failed
    assert failed.sink == "email" and failed.detail.startswith("ConnectionRefusedError"), failed
    assert "s3cret" not in str(down), "the password is never shown"
    assert len(store.list(kind="alert")) == 1


def test_email_settings_name_what_is_missing() -> None:
    from mmp.core.errors import MMPError
    from mmp.core.parsing import parse

    with pytest.raises(MMPError, match=r"^alerts\.email: to \(one or more addresses, comma-separated\) is required when host is set$"):
        parse(AlertSettings, {"email": {"host": "smtp.internal", "to": None}}, "alerts", reveal=False)
