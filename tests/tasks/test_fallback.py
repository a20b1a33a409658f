"""Fallback chains: retries first, then the next provider; permanent errors fall back only if configured."""

from __future__ import annotations

from typing import Any

import pytest

from providers import registry
from providers.errors import AuthenticationError, TransientError
from providers.remote.breaker import reset_breakers
from tasks.runtime.fallback import chain_for, with_fallback

CALLS: list[str] = []


class Flaky:
    """A test provider whose behaviour is its model name: ok, transient or auth."""

    def __init__(self, model: str = "", **_: Any) -> None:
        self.model = model

    def run(self) -> str:
        CALLS.append(self.model)
        if self.model == "transient":
            raise TransientError("HTTP 503 from flaky")
        if self.model == "auth":
            raise AuthenticationError("flaky refused the key: set FLAKY_API_KEY")
        return self.model


@pytest.fixture(autouse=True)
def flaky_vendor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.CAPABILITIES["llm"], "flaky", ("tests.tasks.test_fallback:Flaky", ""))
    CALLS.clear()
    reset_breakers()


def test_chain_dedupes() -> None:
    assert chain_for("openai:x", ["local", "openai:x", "", "local"]) == ["openai:x", "local"]


def test_transient_is_raised_for_retry_until_the_last_attempt() -> None:
    chain = ["flaky:transient", "flaky:ok"]
    with pytest.raises(TransientError):
        with_fallback("llm", chain, lambda p, _spec: p.run(), last_attempt=False)
    outcome = with_fallback("llm", chain, lambda p, _spec: p.run(), last_attempt=True)
    assert outcome.value == "ok" and outcome.spec == "flaky:ok"
    assert outcome.fallback_reason and "503" in outcome.fallback_reason


def test_permanent_error_falls_back_at_once_when_configured() -> None:
    outcome = with_fallback("llm", ["flaky:auth", "flaky:ok"], lambda p, _spec: p.run(), last_attempt=False)
    assert outcome.spec == "flaky:ok" and "FLAKY_API_KEY" in (outcome.fallback_reason or "")


def test_permanent_error_without_fallback_fails_with_its_message() -> None:
    with pytest.raises(AuthenticationError, match="FLAKY_API_KEY"):
        with_fallback("llm", ["flaky:auth"], lambda p, _spec: p.run(), last_attempt=True)


def test_open_breaker_skips_straight_to_the_fallback() -> None:
    for _ in range(4):
        with pytest.raises(TransientError):
            with_fallback("llm", ["flaky:transient"], lambda p, _spec: p.run(), last_attempt=True)
    CALLS.clear()
    outcome = with_fallback("llm", ["flaky:transient", "flaky:ok"], lambda p, _spec: p.run(), last_attempt=False)
    assert CALLS == ["ok"] and "circuit breaker is open" in (outcome.fallback_reason or "")
