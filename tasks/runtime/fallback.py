"""Fallback chains: try the configured provider, then the ones the user listed after it.

A transient failure is retried by Prefect first (the task raises it again); only on the last
attempt, or when the provider's circuit breaker is open, does the chain move on. A permanent
failure moves on at once, but only when a fallback is configured: with none, it fails the task
with the provider's own message (an authentication error names the key to set).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from prefect.context import TaskRunContext

from providers.errors import AuraError, CircuitOpenError, ConfigurationError, TransientError
from providers.registry import resolve
from providers.remote.breaker import breaker_for
from providers.settings import get_settings

__all__ = ["Outcome", "chain_for", "fallback_summary", "is_last_attempt", "with_fallback"]

T = TypeVar("T")


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """What a chain produced, with which provider, and why earlier ones were passed over."""

    value: T
    spec: str
    fallback_reason: str | None = None


def chain_for(primary: str, fallbacks: Sequence[str]) -> list[str]:
    """The primary spec followed by the configured fallbacks, without repeats."""
    chain = [primary]
    for spec in fallbacks:
        if spec and spec not in chain:
            chain.append(spec)
    return chain


def is_last_attempt() -> bool:
    """True when the running Prefect task has no retries left (or runs outside Prefect)."""
    ctx = TaskRunContext.get()
    if ctx is None:
        return True
    return ctx.task_run.run_count > ctx.task.retries


def with_fallback(capability: str, chain: Sequence[str], call: Callable[[Any, str], T], *,
                  last_attempt: bool | None = None, **options: Any) -> Outcome[T]:
    """Run `call(provider, spec)` for each spec of `chain` in turn until one succeeds."""
    last = is_last_attempt() if last_attempt is None else last_attempt
    settings = get_settings()
    reasons: list[str] = []
    for i, spec in enumerate(chain):
        has_next = i + 1 < len(chain)
        breaker = breaker_for(f"{capability}:{spec}", window=settings.breaker_window,
                              open_for=settings.breaker_open_for, min_calls=settings.breaker_min_calls)

        def attempt(spec: str = spec) -> T:
            # the provider is built inside the breaker: an open breaker fails fast, before any client is made
            return call(resolve(capability, spec, **options), spec)

        try:
            value = breaker.call(attempt)
        except CircuitOpenError as exc:
            if not has_next:
                raise
            reasons.append(f"{spec}: {exc}")
        except TransientError as exc:
            if not has_next or not last:
                raise
            reasons.append(f"{spec}: {exc} (after retries)")
        except (ConfigurationError, AuraError) as exc:
            if not has_next:
                raise
            reasons.append(f"{spec}: {exc}")
        else:
            return Outcome(value, spec, "; ".join(reasons) or None)
    raise AssertionError("unreachable: the last spec either returns or raises")


def fallback_summary(items: Sequence[Any]) -> str | None:
    """One line saying which scenes fell back and why, or None when none did."""
    fell = [(getattr(item, "index", i), item.fallback_reason) for i, item in enumerate(items)
            if getattr(item, "fallback_reason", None)]
    if not fell:
        return None
    scenes = ", ".join(str(index + 1) for index, _ in fell)
    return f"scene {scenes}: {fell[0][1]}" if len(fell) == 1 else f"scenes {scenes}: {fell[0][1]}"
