"""Prefect events for a run's stages, so that other clients (the REST API) can stream its progress.

One event per progress report (tasks/runtime/progress.py), named by the report's state:

    started → aura.stage.started     item, running → aura.stage.progress
    finished → aura.stage.finished   degraded → aura.stage.degraded     failed → aura.stage.failed

Each event's resource is `aura.run.<flow run id>` (labels `aura.stage`, `aura.correlation-id`) and it
is related to the flow run (`prefect.flow-run.<id>`, role `flow-run`); Prefect adds the flow, the
deployment and the work pool when there is one. The payload holds the report's fields (`stage`,
`done`, `total`, `message`, `state`), `percentage` (the whole run, 0 to 100, weighted by
STAGE_WEIGHTS and within a stage by items done), `flow_run_id` and `correlation_id`. To stream one
run, filter events by name prefix `aura.stage.` and related resource `prefect.flow-run.<id>`.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from tasks.runtime.progress import STAGE_WEIGHTS, Progress

__all__ = [
    "EVENT_FOR_STATE", "RunProgress", "current_flow_run_id", "emit_stage_event", "event_name",
    "stage_payload",
]

EVENT_FOR_STATE: dict[str, str] = {
    "started": "aura.stage.started",
    "item": "aura.stage.progress",
    "running": "aura.stage.progress",
    "finished": "aura.stage.finished",
    "degraded": "aura.stage.degraded",
    "failed": "aura.stage.failed",
}

# states after which a stage counts as complete for the overall percentage
_FINAL = {"finished", "degraded"}


def event_name(state: str) -> str:
    """The Prefect event name for a report's state (unknown states count as progress)."""
    return EVENT_FOR_STATE.get(state, "aura.stage.progress")


class RunProgress:
    """One run's overall percentage, built from its stages' progress reports (thread-safe)."""

    def __init__(self, weights: Mapping[str, int] = STAGE_WEIGHTS) -> None:
        self.weights = dict(weights)
        self._done: dict[str, int] = {}
        self._total: dict[str, int] = {}
        self._complete: set[str] = set()
        self._lock = threading.Lock()

    def update(self, event: Progress) -> float:
        """Count one report and return the run's percentage after it."""
        with self._lock:
            stage = event.stage
            if event.state == "item":
                self._done[stage] = self._done.get(stage, 0) + 1
                self._total[stage] = max(self._total.get(stage, 0), event.total)
            elif event.state == "running":
                self._done[stage] = max(self._done.get(stage, 0), event.done)
                self._total[stage] = max(self._total.get(stage, 0), event.total)
            elif event.state in _FINAL:
                self._complete.add(stage)
            return self._percentage()

    def fraction(self, stage: str) -> float:
        """Share of `stage` that is done, 0 to 1."""
        with self._lock:
            return self._fraction(stage)

    @property
    def percentage(self) -> float:
        """The whole run's progress, 0 to 100."""
        with self._lock:
            return self._percentage()

    def _fraction(self, stage: str) -> float:
        if stage in self._complete:
            return 1.0
        total = self._total.get(stage, 0)
        return min(1.0, self._done.get(stage, 0) / total) if total > 0 else 0.0

    def _percentage(self) -> float:
        weight = sum(self.weights.values()) or 1
        return round(100 * sum(w * self._fraction(s) for s, w in self.weights.items()) / weight, 1)


def current_flow_run_id() -> str | None:
    """The id of the flow run the calling thread works for (its task run's flow run), or None."""
    from prefect.context import FlowRunContext, TaskRunContext

    task_ctx = TaskRunContext.get()
    if task_ctx is not None and task_ctx.task_run.flow_run_id is not None:
        return str(task_ctx.task_run.flow_run_id)
    flow_ctx = FlowRunContext.get()
    if flow_ctx is not None and flow_ctx.flow_run is not None:
        return str(flow_ctx.flow_run.id)
    return None


def stage_payload(event: Progress, percentage: float, flow_run_id: str,
                  correlation_id: str) -> dict[str, Any]:
    """The payload of a stage event."""
    return {
        "stage": event.stage, "done": event.done, "total": event.total, "message": event.message,
        "state": event.state, "percentage": percentage, "flow_run_id": flow_run_id,
        "correlation_id": correlation_id,
    }


def emit_stage_event(event: Progress, percentage: float, flow_run_id: str, correlation_id: str) -> None:
    """Send the Prefect event for one progress report of the flow run `flow_run_id`."""
    from prefect.events import emit_event

    emit_event(
        event=event_name(event.state),
        resource={
            "prefect.resource.id": f"aura.run.{flow_run_id}",
            "aura.stage": event.stage,
            "aura.correlation-id": correlation_id,
        },
        related=[
            {"prefect.resource.id": f"prefect.flow-run.{flow_run_id}", "prefect.resource.role": "flow-run"},
        ],
        payload=stage_payload(event, percentage, flow_run_id, correlation_id),
    )
