"""A tiny threaded HTTP server on 127.0.0.1 whose failure mode a test can switch or script.

Two ways to make a fake fail:

- `mode`: how every request is answered from now on ("ok", "401", "429", "500", "malformed", "slow",
  "hang"; a fake may add its own).
- `script(...)`: a queue of one-off answers used before `mode`, one per request, e.g.
  `fake.script(500, 500)` (two server errors, then normal answers), `fake.script(Fault(429,
  retry_after="3"))`, `fake.script("hang", "garbage", "drop")`. A `path` limits a step to requests
  whose path ends with it.

Every request is recorded with its arrival time (`requests`, `count()`, `gaps()`), so a test can
count what reached the server (a circuit breaker failing fast) and measure waits between retries.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

__all__ = ["GARBAGE", "TRUNCATE", "Fault", "FakeServer", "Request"]

# modes every fake understands; a fake may add its own
MODES = ("ok", "401", "429", "500", "malformed", "slow", "hang")

# an answer header (never sent) that makes the fake send only that many bytes of the body
TRUNCATE = "X-Fake-Truncate"

# a 200 answer that no SDK can decode: what a misconfigured proxy or a captive portal sends
GARBAGE = b"<html><body>\x00\xff 502 upstream sent an invalid response \xfe</body></html>"


class Request:
    """One request the fake received, with its arrival time (time.monotonic())."""

    def __init__(self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str],
                 body: Any) -> None:
        self.method, self.path, self.query, self.headers, self.body = method, path, query, headers, body
        self.at = time.monotonic()


@dataclass(frozen=True)
class Fault:
    """One scripted answer.

    `status` 200 with no `body` is the normal answer (after the usual key check); another status
    gets the vendor's error body; `body` replaces the answer's body. `hang` waits that many seconds
    (or until the fake is reset or closed) before answering; `drop` closes the connection unanswered.
    """

    status: int = 200
    retry_after: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    content_type: str = "application/json"
    hang: float = 0.0
    drop: bool = False
    path: str | None = None  # only requests whose path ends with this; None: any request

    @classmethod
    def of(cls, step: Fault | int | str, path: str | None = None) -> Fault:
        """A step of `FakeServer.script`: a Fault, an HTTP status, or "ok", "hang", "garbage", "drop"."""
        if isinstance(step, Fault):
            return step if path is None else Fault(**{**step.__dict__, "path": path})
        if isinstance(step, int):
            return cls(status=step, path=path)
        named = {"ok": cls(path=path), "hang": cls(hang=3600.0, path=path), "drop": cls(drop=True, path=path),
                 "garbage": cls(body=GARBAGE, path=path)}
        if step not in named:
            raise ValueError(f"unknown fault {step!r}: use a status code, ok, hang, garbage, drop or a Fault")
        return named[step]


class _QuietServer(ThreadingHTTPServer):
    """A client that hangs up mid-answer (a refused oversized download, a timeout) is part of the test, not an error."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class FakeServer:
    """Base for vendor fakes: subclasses implement `route(request) -> (status, body, content_type)`."""

    key = "test-key"

    def __init__(self) -> None:
        self.mode = "ok"
        self.slow_seconds = 2.0
        self.hang_seconds = 120.0  # the longest a "hang" answer waits when nobody resets the fake
        self.retry_after = "7"
        self.requests: list[Request] = []
        self.generation = 0  # bumped by reset(): a slow answer from an earlier test must not touch this one
        self._faults: deque[Fault] = deque()
        self._released = threading.Event()  # set by reset()/close(): hanging answers give up at once
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
                answer = fake.dispatch(req)
                if answer is None:  # a dropped connection: no status line, nothing
                    self.close_connection = True
                    return
                status, payload, ctype, extra = answer
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                # a download cut short: the full length is announced, part of the body sent, the connection closed
                truncate = extra.pop(TRUNCATE, None)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in extra.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data if truncate is None else data[:int(truncate)])
                    if truncate is not None:
                        self.close_connection = True
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout tests)
                    pass

            def do_POST(self) -> None:
                self._handle("POST")

            def do_GET(self) -> None:
                self._handle("GET")

        self.httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def reset(self) -> None:
        """Back to answering normally, with no recorded requests and no scripted faults."""
        self.mode = "ok"
        with self._lock:
            self.generation += 1
            self.requests.clear()
            self._faults.clear()
            self._released.set()  # wake answers still hanging for an earlier test
            self._released = threading.Event()

    def close(self) -> None:
        """Stop serving."""
        self._released.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def script(self, *steps: Fault | int | str, path: str | None = None) -> None:
        """Queue one-off answers, used in order before `mode` (see the module docstring)."""
        with self._lock:
            self._faults.extend(Fault.of(step, path) for step in steps)

    def pending(self) -> int:
        """Scripted answers not used yet."""
        with self._lock:
            return len(self._faults)

    def count(self, path: str = "") -> int:
        """Requests received so far whose path ends with `path`."""
        with self._lock:
            return sum(1 for r in self.requests if r.path.endswith(path))

    def gaps(self, path: str = "") -> list[float]:
        """Seconds between consecutive requests whose path ends with `path`."""
        with self._lock:
            times = [r.at for r in self.requests if r.path.endswith(path)]
        return [b - a for a, b in zip(times, times[1:], strict=False)]

    def _next_fault(self, req: Request) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.path is None or req.path.endswith(fault.path):
                    self._faults.remove(fault)
                    return fault
        return None

    def _hang(self, seconds: float) -> bool:
        """Wait `seconds` or until released; True when the answer is still wanted (same generation)."""
        generation, released = self.generation, self._released
        released.wait(seconds)
        return generation == self.generation and not released.is_set()

    def dispatch(self, req: Request) -> tuple[int, Any, str, dict[str, str]] | None:
        """Apply a scripted fault or the failure mode, then let the subclass answer; None drops the connection."""
        fault = self._next_fault(req)
        if fault is not None:
            return self._apply(fault, req)
        if self.mode == "hang":
            self._hang(self.hang_seconds)
            return 503, self.error_body(503, "gave up hanging"), "application/json", {}
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

    def _apply(self, fault: Fault, req: Request) -> tuple[int, Any, str, dict[str, str]] | None:
        if fault.hang and not self._hang(fault.hang):
            return 503, self.error_body(503, "too late"), "application/json", {}
        if fault.drop:
            return None
        headers = dict(fault.headers)
        if fault.retry_after is not None:
            headers["Retry-After"] = fault.retry_after
        if fault.body is not None:
            return fault.status, fault.body, fault.content_type, headers
        if fault.status == 200:
            if not self.authorized(req):
                return 401, self.error_body(401, "Incorrect API key provided"), "application/json", {}
            status, body, ctype = self.route(req)
            return status, body, ctype, headers
        messages = {401: "Incorrect API key provided: sk-live-abcdefghijklmnop", 429: "Rate limit reached",
                    500: "The server had an error", 502: "Bad gateway", 503: "Service unavailable"}
        body = self.error_body(fault.status, messages.get(fault.status, f"HTTP {fault.status}"))
        return fault.status, body, "application/json", headers

    def authorized(self, req: Request) -> bool:
        raise NotImplementedError

    def error_body(self, status: int, message: str) -> Any:
        raise NotImplementedError

    def route(self, req: Request) -> tuple[int, Any, str]:
        raise NotImplementedError
