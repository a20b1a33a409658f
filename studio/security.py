"""The API's guards: API keys, job-scoped link tokens, rate limits, body size limit, security headers.

API keys travel in the `X-API-Key` header. A browser cannot add headers to an `EventSource` or a
`<video src>`, so the stream and download links of a job carry a token instead: an HMAC of the job
id under a secret derived from the keys. A token opens that one job's stream and video, nothing else,
and never reveals a key.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = [
    "ApiKeys",
    "BodyLimitMiddleware",
    "RateLimiter",
    "RateLimitMiddleware",
    "SecurityHeadersMiddleware",
    "TokenBucket",
    "error_body",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    """The JSON body of every error answer."""
    return {"error": code, "message": message, **extra}


async def _send_json(send: Send, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]]) -> None:
    payload = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()), *headers]})
    await send({"type": "http.response.body", "body": payload})


class ApiKeys:
    """The configured API keys (none: the API is open) and the job link tokens derived from them."""

    def __init__(self, keys: list[str], token_secret: str = "") -> None:
        self._digests = [hashlib.sha256(k.encode()).digest() for k in keys if k]
        seed = token_secret or "\n".join(sorted(k for k in keys if k))
        self._secret = hashlib.sha256(b"aura-job-token\n" + seed.encode()).digest()

    @property
    def required(self) -> bool:
        """Whether requests must carry a key."""
        return bool(self._digests)

    def check(self, presented: str | None) -> bool:
        """Whether `presented` is one of the keys (constant time)."""
        if not presented or len(presented) > 512:
            return False
        digest = hashlib.sha256(presented.encode()).digest()
        found = False
        for known in self._digests:
            found |= hmac.compare_digest(digest, known)
        return found

    def token(self, job_id: str) -> str:
        """The link token for one job."""
        return hmac.new(self._secret, job_id.encode(), hashlib.sha256).hexdigest()[:32]

    def check_token(self, job_id: str, token: str | None) -> bool:
        """Whether `token` opens `job_id`."""
        return bool(token) and hmac.compare_digest(self.token(job_id), str(token))

    def identity(self, presented: str | None) -> str | None:
        """A stable, non-secret name for a valid key (for rate limits and logs)."""
        if not self.check(presented):
            return None
        assert presented is not None
        return "key:" + hashlib.sha256(presented.encode()).hexdigest()[:12]


class TokenBucket:
    """`rate` tokens per second, up to `burst`; thread-safe."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens = burst
        self.stamp = time.monotonic()
        self.lock = threading.Lock()

    def take(self, cost: float = 1.0) -> float:
        """Take `cost` tokens; return 0 if granted, else the seconds to wait before it would be."""
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens >= cost:
                self.tokens -= cost
                return 0.0
            return (cost - self.tokens) / self.rate if self.rate > 0 else math.inf


class RateLimiter:
    """One token bucket per client identity and class of request, with a bounded number of clients."""

    def __init__(self, per_minute: float, burst: int, generate_per_minute: float, generate_burst: int,
                 max_clients: int = 10_000) -> None:
        self.limits = {"any": (per_minute / 60, burst), "generate": (generate_per_minute / 60, generate_burst)}
        self.buckets: OrderedDict[tuple[str, str], TokenBucket] = OrderedDict()
        self.max_clients = max_clients
        self.lock = threading.Lock()

    def check(self, identity: str, kind: str) -> float:
        """0 if the request may go ahead, else the seconds to wait."""
        rate, burst = self.limits[kind]
        if rate <= 0:
            return 0.0
        with self.lock:
            bucket = self.buckets.get((identity, kind))
            if bucket is None:
                bucket = self.buckets[(identity, kind)] = TokenBucket(rate, burst)
                while len(self.buckets) > self.max_clients:
                    self.buckets.popitem(last=False)
            else:
                self.buckets.move_to_end((identity, kind))
        return bucket.take()


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


class RateLimitMiddleware:
    """429 with Retry-After when a client (its API key, else its address) asks too often under /api/."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter, keys: ApiKeys) -> None:
        self.app, self.limiter, self.keys = app, limiter, keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith("/api/"):
            await self.app(scope, receive, send)
            return
        identity = self.keys.identity(_header(scope, b"x-api-key"))
        if identity is None:
            client = scope.get("client")
            identity = "ip:" + (client[0] if client else "unknown")
        kinds = ["any"]
        if scope.get("method") == "POST" and str(scope.get("path", "")).endswith("/generate"):
            kinds.append("generate")
        for kind in kinds:
            wait = self.limiter.check(identity, kind)
            if wait > 0:
                seconds = max(1, math.ceil(wait)) if math.isfinite(wait) else 3600
                what = "new jobs" if kind == "generate" else "requests"
                await _send_json(send, 429, error_body("rate_limited", f"too many {what}: retry in {seconds} s"),
                                 [(b"retry-after", str(seconds).encode())])
                return
        await self.app(scope, receive, send)


# Closing a socket with unread request bytes in it makes the kernel send a reset, and the client then
# loses the 413 it was about to read. So, like nginx's lingering close, the rest of a refused body is
# read and thrown away, but only up to these bounds; past them the connection is simply closed.
DISCARD_BYTES = 16 * 1024 * 1024
DISCARD_SECONDS = 5.0


async def _discard_body(receive: Receive, announced: int | None) -> None:
    """Read and drop what is left of a refused request body, within DISCARD_BYTES and DISCARD_SECONDS."""
    if announced is not None and announced > DISCARD_BYTES:
        return
    dropped = 0
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(DISCARD_SECONDS):
            while dropped <= DISCARD_BYTES:
                message = await receive()
                if message["type"] != "http.request":
                    return
                dropped += len(message.get("body", b""))
                if not message.get("more_body", False):
                    return


class BodyLimitMiddleware:
    """413 for a request body over `limit` bytes, whether announced by Content-Length or streamed."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        too_big = error_body("body_too_large", f"the request body is over the limit of {self.limit} bytes")
        length = _header(scope, b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            if length.isdigit() and (_header(scope, b"expect") or "").lower() != "100-continue":
                await _discard_body(receive, int(length))
            await _send_json(send, 413, too_big, [(b"connection", b"close")])
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body = message.get("body", b"")
            size += len(body)
            if size > self.limit:
                if message.get("more_body", False):
                    await _discard_body(receive, None)
                await _send_json(send, 413, too_big, [(b"connection", b"close")])
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


class SecurityHeadersMiddleware:
    """nosniff, no referrer (links may carry job tokens), no framing; a strict CSP on the web page."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
                            (b"x-frame-options", b"DENY")]
                if path == "/" or path.startswith("/static/"):
                    headers.append((b"content-security-policy", PAGE_CSP.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)
