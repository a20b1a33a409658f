"""Circuit breakers, one per provider spec, shared by every task in a worker process.

A breaker opens when at least `failure_ratio` of the calls in the last `window` seconds failed
(and there were at least `min_calls`), stays open for `open_for` seconds failing fast with
CircuitOpenError, then lets one probe call through (half-open): success closes it, failure opens
it again. Only transient failures count; a permanent error says nothing about the provider's health.
The maintained Python breakers (pybreaker, circuitbreaker) count consecutive failures, not a
failure ratio over a time window, so this one is small and local.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from providers.errors import CircuitOpenError, TransientError

__all__ = ["CircuitBreaker", "breaker_for", "reset_breakers"]

log = logging.getLogger("aura.breaker")
T = TypeVar("T")


class CircuitBreaker:
    """A failure-ratio circuit breaker for one provider."""

    def __init__(self, name: str, *, failure_ratio: float = 0.5, window: float = 30.0, min_calls: int = 4,
                 open_for: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.failure_ratio = failure_ratio
        self.window = window
        self.min_calls = min_calls
        self.open_for = open_for
        self.clock = clock
        self.state = "closed"
        self._calls: deque[tuple[float, bool]] = deque()
        self._opened_at = 0.0
        self._probing = False
        self._lock = threading.Lock()

    def _change(self, state: str) -> None:
        if state != self.state:
            log.warning("circuit breaker for %s: %s -> %s", self.name, self.state, state)
            self.state = state

    def _admit(self) -> bool:
        """Whether a call may go ahead now; True for the probe call when half-open."""
        with self._lock:
            now = self.clock()
            if self.state == "open":
                if now - self._opened_at < self.open_for:
                    until = datetime.now(UTC) + timedelta(seconds=self.open_for - (now - self._opened_at))
                    raise CircuitOpenError(
                        f"{self.name} is failing; its circuit breaker is open until {until:%H:%M:%S} UTC",
                        retry_after=self.open_for - (now - self._opened_at),
                    )
                self._change("half-open")
            if self.state == "half-open":
                if self._probing:
                    raise CircuitOpenError(f"{self.name} is being probed after failures; try again shortly",
                                           retry_after=1.0)
                self._probing = True
                return True
            return False

    def _record(self, ok: bool, probe: bool) -> None:
        with self._lock:
            now = self.clock()
            if probe:
                self._probing = False
                if ok:
                    self._calls.clear()
                    self._change("closed")
                else:
                    self._opened_at = now
                    self._change("open")
                return
            if self.state != "closed":
                # a call let through before the breaker opened, ending late: the open period and the
                # probe decide what happens next, so it must not re-open (and prolong) the breaker
                return
            self._calls.append((now, ok))
            while self._calls and now - self._calls[0][0] > self.window:
                self._calls.popleft()
            failures = sum(1 for _, good in self._calls if not good)
            if len(self._calls) >= self.min_calls and failures / len(self._calls) >= self.failure_ratio:
                self._opened_at = now
                self._calls.clear()
                self._change("open")

    def call(self, fn: Callable[[], T]) -> T:
        """Run `fn` through the breaker."""
        probe = self._admit()
        try:
            result = fn()
        except TransientError as exc:
            if isinstance(exc, CircuitOpenError):
                raise
            self._record(False, probe)
            raise
        except BaseException:
            if probe:
                with self._lock:
                    self._probing = False
            raise
        self._record(True, probe)
        return result


_breakers: dict[str, CircuitBreaker] = {}
_breakers_lock = threading.Lock()


def breaker_for(name: str, **options: float) -> CircuitBreaker:
    """The process-wide breaker for provider `name` (created on first use)."""
    with _breakers_lock:
        if name not in _breakers:
            _breakers[name] = CircuitBreaker(name, **options)  # type: ignore[arg-type]
        return _breakers[name]


def reset_breakers() -> None:
    """Forget every breaker (tests, or a worker that wants a clean slate)."""
    with _breakers_lock:
        _breakers.clear()
