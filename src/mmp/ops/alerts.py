"""Alerts: what the daily loop raises when a batch is quarantined or no retrain attempt passes
the gate. Every alert goes to the events store and one log line, always; to a webhook (a JSON
POST, retried with backoff, each try under a timeout) and by email (SMTP, optional STARTTLS and
login) when the runtime settings' ``alerts:`` block configures them.

The store comes first, so a sink that fails never loses the alert: its failure is one line in
the log and in the returned :class:`Outcome`. The store records an alert once per key (a re-run
day does not duplicate it); the sinks are sent on every raise, so an alert is delivered at least
once even when a day crashed between recording and sending it.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from mmp.core.errors import MMPError
from mmp.core.parsing import Strict

if TYPE_CHECKING:
    from mmp.core.settings import AlertSettings, EmailSettings, WebhookSettings
    from mmp.ops.events import EventStore

log = logging.getLogger("mmp.alerts")
RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


class Attempt(Strict):
    """One retrain attempt as an alert reports it."""

    number: int = Field(ge=1)
    strategy: str | None = None  # e.g. seed, tune, window, finetune
    value: float | None = None  # the gate metric of the attempt's model on the day's batch
    version: str | None = None  # the registered model version, when it got one
    run_id: str | None = None  # its MLflow run

    def line(self, metric: str) -> str:
        parts = [f"attempt {self.number}" + (f" ({self.strategy})" if self.strategy else "")]
        parts.append(f"{metric} {_num(self.value)}")
        if self.version:
            parts.append(f"version {self.version}")
        parts.append(f"MLflow run {self.run_id or 'none'}")
        return ", ".join(parts)


class Alert(Strict):
    key: str = Field(min_length=1)  # the event key: one alert per key in the store
    day: date
    reason: str = Field(min_length=1)
    severity: Literal["warning", "critical"] = "critical"
    model: str | None = None
    metric: str | None = None  # the gate metric, e.g. f1
    value: float | None = None  # its value (the best model's on the day's batch)
    threshold: float | None = None
    attempts: tuple[Attempt, ...] = ()
    details: dict[str, Any] = Field(default_factory=dict)

    def title(self) -> str:
        return f"[mmp {self.severity}] {self.model or 'mmp'} {self.day.isoformat()}: {self.reason}"

    def summary(self) -> str:
        """One line: the reason, the figure against its threshold, the attempts and their runs."""
        line = self.title()
        if self.metric:
            line += f"; {self.metric} {_num(self.value)} (threshold {_num(self.threshold)})"
        if self.attempts:
            line += f"; {len(self.attempts)} attempts, runs " + ", ".join(a.run_id or "none" for a in self.attempts)
        return line

    def body(self) -> str:
        lines = [self.title(), "", f"day: {self.day.isoformat()}", f"model: {self.model or '-'}", f"reason: {self.reason}"]
        if self.metric:
            lines.append(f"{self.metric}: {_num(self.value)} (threshold {_num(self.threshold)})")
        lines += [f"attempts: {len(self.attempts)}", *(f"  {a.line(self.metric or 'metric')}" for a in self.attempts)]
        lines += [f"{k}: {v}" for k, v in sorted(self.details.items())]
        lines.append(f"event key: {self.key}")
        return "\n".join(lines) + "\n"

    def payload(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


@dataclass(frozen=True)
class Delivery:
    sink: str  # store, log, webhook, email
    ok: bool
    detail: str


@dataclass
class Outcome:
    new: bool  # False: the store held this alert's key already (a re-run day)
    deliveries: list[Delivery] = field(default_factory=list)

    @property
    def failed(self) -> list[Delivery]:
        return [d for d in self.deliveries if not d.ok]


def raise_alert(alert: Alert, store: EventStore, settings: AlertSettings) -> Outcome:
    """Record ``alert`` and send it to every configured sink; a failing sink is logged and
    reported in the outcome, never raised."""
    outcome = Outcome(new=False)
    try:
        outcome.new = store.append("alert", alert.key, alert.day, alert.payload(), model=alert.model)
        outcome.deliveries.append(Delivery("store", True, "recorded" if outcome.new else "recorded before (same key)"))
    except MMPError as err:
        outcome.deliveries.append(Delivery("store", False, str(err)))
    (log.critical if alert.severity == "critical" else log.warning)(alert.summary())
    outcome.deliveries.append(Delivery("log", True, "logged"))
    if settings.webhook.url:
        outcome.deliveries.append(_attempt("webhook", lambda: post_webhook(alert, settings.webhook)))
    if settings.email.host:
        outcome.deliveries.append(_attempt("email", lambda: send_email(alert, settings.email)))
    for failure in outcome.failed:
        log.error("alert %s: the %s sink failed: %s", alert.key, failure.sink, failure.detail)
    return outcome


def _attempt(sink: str, send: Any) -> Delivery:
    try:
        return Delivery(sink, True, send())
    except Exception as err:  # a sink's failure is reported, never allowed to lose the alert
        first = str(err).splitlines()[0] if str(err) else ""
        return Delivery(
            sink, False, first if isinstance(err, SinkError) else f"{type(err).__name__}: {first}" if first else type(err).__name__
        )


class SinkError(Exception):
    pass


def post_webhook(alert: Alert, settings: WebhookSettings) -> str:
    """POST the alert as JSON (``text``: its one-line summary, for chat webhooks, beside every
    field). Retried on no answer, a timeout, 408/425/429 and 5xx; any other status fails at once.
    The URL is never printed (chat webhook URLs carry their token)."""
    import urllib.error
    import urllib.request

    body = json.dumps({"text": alert.summary(), **alert.payload()}).encode()
    tries = settings.retries + 1
    reason = ""
    for n in range(1, tries + 1):
        if n > 1:
            time.sleep(settings.backoff_s * 2 ** (n - 2))
        request = urllib.request.Request(str(settings.url), data=body, method="POST", headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=settings.timeout_s) as response:
                return f"HTTP {response.status} after {n} {'try' if n == 1 else 'tries'}"
        except urllib.error.HTTPError as err:
            reason = f"HTTP {err.code}"
            if err.code not in RETRY_STATUS:
                raise SinkError(f"webhook answered {reason} (not retried)") from None
        except (urllib.error.URLError, TimeoutError, OSError) as err:
            cause = getattr(err, "reason", err)
            reason = f"no answer ({type(cause).__name__ if not str(cause) else cause})"
    raise SinkError(f"webhook failed after {tries} {'try' if tries == 1 else 'tries'}: last {reason}")


def send_email(alert: Alert, settings: EmailSettings) -> str:
    """Mail the alert to ``settings.to`` over SMTP (STARTTLS and login when configured)."""
    import smtplib
    import ssl
    from email.message import EmailMessage

    message = EmailMessage()
    message["Subject"] = alert.title()
    message["From"] = settings.sender
    message["To"] = ", ".join(settings.to)
    message.set_content(alert.body())
    with smtplib.SMTP(str(settings.host), settings.port, timeout=settings.timeout_s) as smtp:
        if settings.starttls:
            smtp.starttls(context=ssl.create_default_context())
        if settings.username:
            smtp.login(settings.username, settings.password.get_secret_value() if settings.password else "")
        smtp.send_message(message)
    return f"sent to {len(settings.to)} {'recipient' if len(settings.to) == 1 else 'recipients'}"
