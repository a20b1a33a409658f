"""Progress reporting: one call for stages to report, any number of listeners (CLI, events).

Contract shared with the Prefect events (tasks/runtime/events.py) and the REST API's SSE stream: a report
is (stage, done, total, message, state) where stage is one of STAGE_WEIGHTS, state is one of
started | running | item | finished | degraded | failed, and "item" means one more item of
`total` is done. The Prefect event for a report is named `aura.stage.<state>` (item → progress),
related to the flow run, with the report's fields and the run's overall percentage in its payload.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["STAGE_WEIGHTS", "Progress", "add_listener", "remove_listener", "report"]

# share of the whole run each stage accounts for, in percent
STAGE_WEIGHTS: dict[str, int] = {"brief": 5, "script": 20, "voice": 25, "visuals": 30, "composition": 20}


@dataclass(frozen=True)
class Progress:
    """A stage's progress: `done` of `total` items, and a short message."""

    stage: str
    done: int
    total: int
    message: str = ""
    state: str = "running"  # started | running | item (one more done) | finished | degraded | failed

    @property
    def fraction(self) -> float:
        """Share of this stage that is done, 0 to 1."""
        return 1.0 if self.total <= 0 else min(1.0, self.done / self.total)


Listener = Callable[[Progress], None]
_listeners: list[Listener] = []
_lock = threading.Lock()


def add_listener(listener: Listener) -> None:
    """Call `listener` for every progress report in this process."""
    with _lock:
        _listeners.append(listener)


def remove_listener(listener: Listener) -> None:
    """Stop calling `listener`."""
    with _lock:
        if listener in _listeners:
            _listeners.remove(listener)


def report(stage: str, done: int, total: int, message: str = "", state: str = "running") -> None:
    """Tell every listener how far `stage` is."""
    event = Progress(stage, done, total, message, state)
    with _lock:
        listeners = list(_listeners)
    for listener in listeners:
        listener(event)
