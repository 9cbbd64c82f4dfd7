"""Before any call to an MLflow tracking server: fail in seconds, with one line, when it is down.

MLflow's HTTP client retries a refused connection with exponential backoff (7 retries by
default, over four minutes of silence), so every entry point that talks to a tracking URI
(mirroring, promotion, loading a registry model) calls :func:`prepare_tracking` first."""

from __future__ import annotations

import base64
import contextlib
import http.client
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mmp.core.db import redact
from mmp.core.errors import MMPError

# Caps for MLflow's own HTTP calls; a user's environment still wins (setdefault).
HTTP_LIMITS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1", "MLFLOW_HTTP_REQUEST_TIMEOUT": "30"}
HEALTH_TIMEOUT_S = 5.0
FIX = "start it (`make mlflow-server`) or set MLFLOW_TRACKING_URI"
# A server that answers but wants other credentials is up: MLflow reports the auth error itself.
ANSWERED = (401, 403)


def prepare_tracking(uri: str) -> None:
    """Cap MLflow's HTTP retries and, for an HTTP(S) tracking URI, check the server answers."""
    for name, value in HTTP_LIMITS.items():
        os.environ.setdefault(name, value)
    if uri.startswith(("http://", "https://")):
        check_reachable(uri)


def check_reachable(uri: str, timeout: float = HEALTH_TIMEOUT_S) -> None:
    """GET ``<uri>/health`` as MLflow would reach the server: credentials in the URI
    (``http://user:pass@host``) travel as HTTP basic auth, never as part of the host name."""
    url, headers = split_credentials(uri)
    request = urllib.request.Request(f"{url.rstrip('/')}/health", headers=headers)
    try:
        urllib.request.urlopen(request, timeout=timeout).close()
    except urllib.error.HTTPError as err:
        if err.code not in ANSWERED:
            raise MMPError("mlflow", f"tracking server {redact(uri)} answered /health with HTTP {err.code} ({err.reason})", FIX) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as err:  # also a malformed URL (port)
        reason = getattr(err, "reason", err)
        raise MMPError("mlflow", f"tracking server {redact(uri)} is unreachable ({redact(str(reason))})", FIX) from None


def split_credentials(uri: str) -> tuple[str, dict[str, str]]:
    """``uri`` without its ``user:password@`` part, and the basic-auth header that part means
    (percent-escapes decoded, as the ``requests`` library MLflow uses does)."""
    parts = urllib.parse.urlsplit(uri)
    userinfo, at, host = parts.netloc.rpartition("@")
    if not at:
        return uri, {}
    user, _, password = userinfo.partition(":")
    token = base64.b64encode(f"{urllib.parse.unquote(user)}:{urllib.parse.unquote(password)}".encode()).decode()
    return urllib.parse.urlunsplit(parts._replace(netloc=host)), {"Authorization": f"Basic {token}"}


def download_model(uri: str, tracking_uri: str | None, dst: str) -> tuple[str, Any]:
    """Download ``models:/name@alias``, ``models:/name/N`` or ``runs:/...`` from the store named,
    with the registry's model version (None for a run URI). MLflow's global tracking URI is never
    set: ``mlflow.set_tracking_uri`` exports MLFLOW_TRACKING_URI to every later subprocess (a
    pipeline stage would mirror into this store), and MLflow's own ``models:/`` download ignores a
    ``registry_uri`` argument, so the version is looked up here and its storage downloaded."""
    import mlflow
    from mlflow import MlflowClient

    version = None
    source = uri
    if uri.startswith("models:/"):
        client = MlflowClient(tracking_uri, registry_uri=tracking_uri)
        ref = uri.removeprefix("models:/")
        if "@" in ref:
            version = client.get_model_version_by_alias(*ref.split("@", 1))
        elif "/" in ref:
            version = client.get_model_version(*ref.split("/", 1))
        else:
            raise MMPError("--model", f"{uri} names no alias or version", "models:/name@alias or models:/name/version")
        source = client.get_model_version_download_uri(version.name, version.version)
    return mlflow.artifacts.download_artifacts(artifact_uri=source, dst_path=dst, tracking_uri=tracking_uri), version


@contextlib.contextmanager
def store_lock(uri: str) -> Iterator[None]:
    """Two queued experiments that open a new SQLite store at once both run MLflow's schema
    migrations and leave it half-migrated; a file lock beside the database serialises them."""
    if not uri.startswith("sqlite:///"):
        yield
        return
    from filelock import FileLock

    db = Path(uri.removeprefix("sqlite:///"))
    db.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(db) + ".lock", timeout=300):
        yield


def artifact_root(location: str | None) -> str | None:
    """A new experiment's artifact location as MLflow wants it: a URI (a plain path resolved to a
    ``file://`` URI); None lets the tracking server decide."""
    if location and "://" not in location:
        return Path(location).resolve().as_uri()
    return location or None
