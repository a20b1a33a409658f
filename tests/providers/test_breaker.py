"""The circuit breaker: opens on a failure ratio, fails fast, probes, closes."""

from __future__ import annotations

import pytest

from providers.errors import BadRequestError, CircuitOpenError, TransientError
from providers.remote.breaker import CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _fail() -> None:
    raise TransientError("HTTP 500")


def test_opens_on_half_failures_fails_fast_then_probes_and_closes() -> None:
    clock = Clock()
    breaker = CircuitBreaker("openai:gpt", min_calls=4, clock=clock)
    calls = []

    def ok() -> str:
        calls.append("ok")
        return "ok"

    breaker.call(ok)
    breaker.call(ok)
    for _ in range(2):
        with pytest.raises(TransientError):
            breaker.call(_fail)
    assert breaker.state == "open"
    with pytest.raises(CircuitOpenError, match="openai:gpt.*open until"):
        breaker.call(ok)
    assert calls == ["ok", "ok"]  # failing fast: the call never reached the provider
    clock.now += 31
    assert breaker.call(ok) == "ok"  # the probe
    assert breaker.state == "closed"


def test_failed_probe_opens_again() -> None:
    clock = Clock()
    breaker = CircuitBreaker("x", min_calls=2, clock=clock)
    for _ in range(2):
        with pytest.raises(TransientError):
            breaker.call(_fail)
    clock.now += 30.5
    with pytest.raises(TransientError):
        breaker.call(_fail)
    assert breaker.state == "open"
    with pytest.raises(CircuitOpenError):
        breaker.call(lambda: None)


def test_old_failures_leave_the_window_and_permanent_errors_do_not_count() -> None:
    clock = Clock()
    breaker = CircuitBreaker("x", min_calls=3, clock=clock)
    with pytest.raises(TransientError):
        breaker.call(_fail)
    clock.now += 40
    for _ in range(3):
        with pytest.raises(BadRequestError):
            breaker.call(lambda: (_ for _ in ()).throw(BadRequestError("bad")))
    breaker.call(lambda: None)
    breaker.call(lambda: None)
    assert breaker.state == "closed"
