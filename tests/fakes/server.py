"""A tiny threaded HTTP server on 127.0.0.1 whose failure mode a test can switch."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

__all__ = ["FakeServer", "Request"]

# modes every fake understands; a fake may add its own
MODES = ("ok", "401", "429", "500", "malformed", "slow")


class Request:
    """One request the fake received."""

    def __init__(self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str],
                 body: Any) -> None:
        self.method, self.path, self.query, self.headers, self.body = method, path, query, headers, body


class FakeServer:
    """Base for vendor fakes: subclasses implement `route(request) -> (status, body, content_type)`."""

    key = "test-key"

    def __init__(self) -> None:
        self.mode = "ok"
        self.slow_seconds = 2.0
        self.retry_after = "7"
        self.requests: list[Request] = []
        self.generation = 0  # bumped by reset(): a slow answer from an earlier test must not touch this one
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self, method: str) -> None:
                url = urlparse(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body: Any = json.loads(raw) if raw else {}
                except json.JSONDecodeError:
                    body = raw
                headers = {k.lower(): v for k, v in self.headers.items()}
                req = Request(method, url.path, parse_qs(url.query), headers, body)
                with fake._lock:
                    fake.requests.append(req)
                status, payload, ctype, extra = fake.dispatch(req)
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in extra.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout tests)
                    pass

            def do_POST(self) -> None:
                self._handle("POST")

            def do_GET(self) -> None:
                self._handle("GET")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def reset(self) -> None:
        """Back to answering normally, with no recorded requests."""
        self.mode = "ok"
        with self._lock:
            self.generation += 1
            self.requests.clear()

    def close(self) -> None:
        """Stop serving."""
        self.httpd.shutdown()
        self.httpd.server_close()

    def dispatch(self, req: Request) -> tuple[int, Any, str, dict[str, str]]:
        """Apply the failure mode, then let the subclass answer."""
        if self.mode == "slow":
            generation = self.generation
            time.sleep(self.slow_seconds)
            if generation != self.generation:  # the client gave up long ago and another test runs now
                return 503, self.error_body(503, "too late"), "application/json", {}
        if self.mode == "401" or not self.authorized(req):
            return 401, self.error_body(401, "Incorrect API key provided: sk-live-abcdefghijklmnop"), \
                "application/json", {}
        if self.mode == "429":
            return 429, self.error_body(429, "Rate limit reached"), "application/json", \
                {"Retry-After": self.retry_after}
        if self.mode == "500":
            return 500, self.error_body(500, "The server had an error"), "application/json", {}
        status, body, ctype = self.route(req)
        return status, body, ctype, {}

    def authorized(self, req: Request) -> bool:
        raise NotImplementedError

    def error_body(self, status: int, message: str) -> Any:
        raise NotImplementedError

    def route(self, req: Request) -> tuple[int, Any, str]:
        raise NotImplementedError
