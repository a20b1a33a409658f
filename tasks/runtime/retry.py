"""Which failures a task retries (transient ones only), how long it waits, and how many retries it made.

Prefect's own delays are fixed per task, so Aura's tasks set `retry_delay_seconds=0` and wait here,
in `retry_transient`, which Prefect calls in the task's thread before each retry: exponential
backoff (1, 2, 4, 8 s, capped at 10 s) with ±20 % jitter, or longer when the provider said
`Retry-After`.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from typing import Any

from providers.errors import TransientError

__all__ = ["backoff_delay", "is_transient", "retry_count", "retry_transient"]

BACKOFF_CAP = 10.0
RETRY_AFTER_CAP = 60.0

_retries: Counter[str] = Counter()
_lock = threading.Lock()


def is_transient(exc: BaseException | None) -> bool:
    """True for errors worth retrying (timeouts, connection errors, HTTP 429/5xx)."""
    return isinstance(exc, TransientError | TimeoutError | ConnectionError)


def backoff_delay(attempt: int, retry_after: float | None = None, rng: random.Random | None = None) -> float:
    """Seconds to wait before retry number `attempt` (1-based)."""
    base = min(BACKOFF_CAP, 2.0 ** (attempt - 1))
    jittered = base * (rng or random).uniform(0.8, 1.2)
    if retry_after is not None:
        return max(jittered, min(retry_after, RETRY_AFTER_CAP))
    return min(jittered, BACKOFF_CAP)


def retry_count(task_name: str) -> int:
    """Retries granted so far in this process to tasks named `task_name`."""
    with _lock:
        return _retries[task_name]


def retry_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect `retry_condition_fn`: retry only transient failures, after the backoff delay."""
    try:
        state.result()
    except BaseException as exc:  # the state re-raises the task's own exception
        if not is_transient(exc):
            return False
        with _lock:
            _retries[task.name] += 1
        attempt = max(1, int(getattr(task_run, "run_count", 1) or 1))
        time.sleep(backoff_delay(attempt, getattr(exc, "retry_after", None)))
        return True
    return False
