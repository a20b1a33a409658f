"""Which failures a task retries (transient ones only), and how many retries each task made."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from providers.errors import TransientError

__all__ = ["is_transient", "retry_count", "retry_transient"]

_retries: Counter[str] = Counter()
_lock = threading.Lock()


def is_transient(exc: BaseException | None) -> bool:
    """True for errors worth retrying (timeouts, connection errors, HTTP 429/5xx)."""
    return isinstance(exc, TransientError | TimeoutError | ConnectionError)


def retry_count(task_name: str) -> int:
    """Retries granted so far in this process to tasks named `task_name`."""
    with _lock:
        return _retries[task_name]


def retry_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect `retry_condition_fn`: retry only when the failure is transient, and count it."""
    try:
        state.result()
    except BaseException as exc:  # the state re-raises the task's own exception
        if is_transient(exc):
            with _lock:
                _retries[task.name] += 1
            return True
    return False
