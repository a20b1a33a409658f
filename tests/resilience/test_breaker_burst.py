"""The circuit breaker against a real failing server: a burst of failures opens it, calls then fail fast
without reaching the server, and after the break one probe goes through and closes it.

Short settings (AURA_BREAKER_WINDOW=5, AURA_BREAKER_OPEN_FOR=2, AURA_BREAKER_MIN_CALLS=4) keep the test
quick; the defaults are a 30 s window and 30 s open.
"""

from __future__ import annotations

import logging
import re
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from prefect import flow

from providers.errors import CircuitOpenError, TransientError
from providers.remote.breaker import breaker_for
from providers.settings import get_settings
from tasks.runtime.retry import retry_count
from tasks.schemas import Brief, Script
from tasks.script import write_script
from tests.fakes.openai_server import FakeOpenAI
from tests.resilience.conftest import topic

CHAT = "/chat/completions"
LLM = "openai:gpt-4o-mini"
OPEN_FOR = 2.0


def _call(brief: Brief) -> tuple[str, float]:
    """One script request outside Prefect (no task retries): what it raised, and how long it took."""
    started = time.perf_counter()
    try:
        write_script.fn(brief, LLM)
    except CircuitOpenError as exc:
        return f"open: {exc}", time.perf_counter() - started
    except TransientError as exc:
        return f"failed: {exc}", time.perf_counter() - started
    return "ok", time.perf_counter() - started


@flow(name="resilience-script-task")
def script_task(brief: Brief) -> Script:
    return write_script(brief, LLM)


def test_burst_opens_the_breaker_fails_fast_then_a_probe_closes_it(
        openai_fake: FakeOpenAI, env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    env.setenv("AURA_BREAKER_WINDOW", "5")
    env.setenv("AURA_BREAKER_OPEN_FOR", str(OPEN_FOR))
    env.setenv("AURA_BREAKER_MIN_CALLS", "4")
    get_settings.cache_clear()
    caplog.set_level(logging.WARNING, logger="aura.breaker")
    brief = Brief(topic=topic("breaker"), duration=10, density="sparse")
    openai_fake.mode = "500"

    # a burst: 24 calls from 4 threads against a server that answers every request with HTTP 500
    with ThreadPoolExecutor(4) as pool:
        burst = list(pool.map(lambda _: _call(brief), range(24)))
    breaker = breaker_for(f"llm:{LLM}")
    assert breaker.state == "open"
    reached = openai_fake.count(CHAT)
    failed = [r for r in burst if r[0].startswith("failed")]
    fast = [r for r in burst if r[0].startswith("open")]
    assert len(failed) == reached and 4 <= reached <= 7  # only calls let in before it opened reached the server
    assert len(fast) == 24 - reached

    # while open: no request reaches the server, each call fails at once, saying which provider and until when
    openai_fake.mode = "ok"  # the server has recovered, but the breaker cannot know yet
    during = [_call(brief) for _ in range(10)]
    assert openai_fake.count(CHAT) == reached
    assert all(outcome.startswith("open: ") for outcome, _ in during)
    assert re.search(rf"llm:{LLM} is failing; its circuit breaker is open until \d\d:\d\d:\d\d UTC", during[0][0])
    fail_fast = [seconds for _, seconds in [*fast, *during]]
    assert max(fail_fast) < 0.5

    # a Prefect task that meets the open breaker waits for the time it names (not the 1 s backoff), then
    # its retry is the probe: it reaches the server, succeeds, and closes the breaker
    opened_for = time.monotonic() - breaker._opened_at
    retries_before = retry_count("write_script")
    started = time.perf_counter()
    script = script_task(brief)
    waited = time.perf_counter() - started
    assert script.provider == LLM and breaker.state == "closed"
    assert openai_fake.count(CHAT) == reached + 1  # exactly one probe
    assert retry_count("write_script") == retries_before + 1
    assert waited >= OPEN_FOR - opened_for - 0.1

    # state changes are logged
    changes = [r.getMessage() for r in caplog.records if r.name == "aura.breaker"]
    assert changes == [f"circuit breaker for llm:{LLM}: closed -> open",
                       f"circuit breaker for llm:{LLM}: open -> half-open",
                       f"circuit breaker for llm:{LLM}: half-open -> closed"]
    print(f"\nbreaker: {reached} of 24 burst calls reached the server; fail-fast median "
          f"{statistics.median(fail_fast) * 1000:.1f} ms, max {max(fail_fast) * 1000:.1f} ms; "
          f"open {OPEN_FOR} s; task waited {waited:.2f} s then its probe closed the breaker")


def test_while_open_the_configured_fallback_is_used_without_touching_the_server(
        openai_fake: FakeOpenAI, env: pytest.MonkeyPatch) -> None:
    env.setenv("AURA_BREAKER_OPEN_FOR", "30")
    env.setenv("AURA_BREAKER_MIN_CALLS", "4")
    get_settings.cache_clear()
    brief = Brief(topic=topic("breaker-fallback"), duration=10, density="sparse")
    openai_fake.mode = "500"
    for _ in range(4):
        _call(brief)
    assert openai_fake.count(CHAT) == 4

    env.setenv("AURA_FALLBACK_LLM", "local")
    get_settings.cache_clear()
    openai_fake.mode = "ok"
    started = time.perf_counter()
    script = script_task(brief)  # first attempt: the breaker is open, so straight to `local`, no retry

    assert script.provider == "local" and openai_fake.count(CHAT) == 4
    assert script.fallback_reason and "circuit breaker is open until" in script.fallback_reason
    assert time.perf_counter() - started < 10


def test_calls_in_flight_when_it_opened_do_not_prolong_the_break() -> None:
    """Two slow calls let in before the breaker opened fail 20 s later: the break still ends on time."""
    import threading

    from providers.remote.breaker import CircuitBreaker

    now = [1000.0]
    breaker = CircuitBreaker("slow-vendor", min_calls=2, open_for=30, clock=lambda: now[0])
    release = threading.Event()

    def slow_failure() -> None:
        release.wait(10)
        raise TransientError("HTTP 504 after a long wait")

    def fail() -> None:
        raise TransientError("HTTP 500")

    slow = [threading.Thread(target=lambda: pytest.raises(TransientError, breaker.call, slow_failure))
            for _ in range(2)]
    for thread in slow:
        thread.start()
    time.sleep(0.1)  # both are inside the provider call now
    for _ in range(2):
        with pytest.raises(TransientError):
            breaker.call(fail)
    assert breaker.state == "open"
    now[0] += 20
    release.set()
    for thread in slow:
        thread.join(5)
    now[0] += 11  # 31 s after it opened
    assert breaker.call(lambda: "ok") == "ok" and breaker.state == "closed"
