"""The test stack's REST calls retry what Prefect's server says is worth retrying (503 "database is locked")."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from prefect_stack import send_retrying


class _Busy(BaseHTTPRequestHandler):
    """Answers like a Prefect server on a busy SQLite database: 503 twice (once with Retry-After), then 201."""

    calls = 0

    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        type(self).calls += 1
        self.rfile.read(int(self.headers.get("content-length", 0)))
        if type(self).calls <= 2:
            body = b'{"exception_message": "Service Unavailable", "exception_detail": "database is locked"}'
            self.send_response(503)
            if type(self).calls == 1:
                self.send_header("Retry-After", "0.2")
        else:
            body = json.dumps({"id": "run", "calls": type(self).calls}).encode()
            self.send_response(201)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        return


@pytest.fixture
def busy_server() -> Iterator[str]:
    _Busy.calls = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Busy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_503_from_a_locked_database_is_retried_until_it_succeeds(busy_server: str) -> None:
    with httpx.Client(base_url=busy_server) as http:
        answer = send_retrying(http, "POST", "/deployments/x/create_flow_run", {"parameters": {}})
    assert answer.status_code == 201 and answer.json()["calls"] == 3


def test_a_503_that_persists_still_fails(busy_server: str) -> None:
    with httpx.Client(base_url=busy_server) as http, pytest.raises(httpx.HTTPStatusError):
        send_retrying(http, "POST", "/x", {}, attempts=2)
