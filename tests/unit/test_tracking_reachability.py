"""The tracking-server reachability check against a real HTTP server on 127.0.0.1: a URI with
credentials in it (``http://user:pass@host:port``, which MLflow accepts) reaches the server, with
the credentials sent as basic auth; a closed port is one line naming the URI, password hidden."""

from __future__ import annotations

import base64
import http.server
import socket
import threading
from collections.abc import Iterator

import pytest

from mmp.core.errors import MMPError
from mmp.core.tracking import check_reachable, split_credentials

USER, PASSWORD = "alice", "p@ss:word"  # a password with URL-reserved characters, percent-escaped below
ESCAPED = "p%40ss%3Aword"


class Health(http.server.BaseHTTPRequestHandler):
    """``/health`` behind basic auth, like a tracking server behind an authenticating proxy."""

    seen: list[str | None] = []

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        auth = self.headers.get("Authorization")
        Health.seen.append(auth)
        good = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        self.send_response(200 if self.path == "/health" and auth == good else 404 if auth == good else 401)
        self.end_headers()
        self.wfile.write(b"OK")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[int]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Health)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    Health.seen.clear()
    try:
        yield httpd.server_address[1]
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_credentials_in_the_uri_reach_the_server_as_basic_auth(server: int) -> None:
    check_reachable(f"http://{USER}:{ESCAPED}@127.0.0.1:{server}")
    check_reachable(f"http://{USER}:{ESCAPED}@127.0.0.1:{server}/")
    assert Health.seen == ["Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()] * 2
    check_reachable(f"http://127.0.0.1:{server}")  # 401: the server is up; MLflow reports the auth error
    assert split_credentials(f"http://127.0.0.1:{server}") == (f"http://127.0.0.1:{server}", {})


def test_an_unreachable_or_wrong_server_is_one_line_without_the_password(server: int) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    with pytest.raises(MMPError, match=rf"tracking server http://{USER}:\*\*\*@127.0.0.1:{closed} is unreachable") as err:
        check_reachable(f"http://{USER}:{ESCAPED}@127.0.0.1:{closed}", timeout=2)
    assert ESCAPED not in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(MMPError, match="answered /health with HTTP 404"):
        check_reachable(f"http://{USER}:{ESCAPED}@127.0.0.1:{server}/prefix")
    with pytest.raises(MMPError, match="is unreachable"):
        check_reachable("http://127.0.0.1:notaport")
