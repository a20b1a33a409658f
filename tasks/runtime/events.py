"""Prefect events for a run's stages, so that other clients (the REST API) can stream its progress.

One event per progress report (tasks/runtime/progress.py), named by the report's state:

    started → aura.stage.started     item, running → aura.stage.progress
    finished → aura.stage.finished   degraded → aura.stage.degraded     failed → aura.stage.failed

Each event's resource is `aura.run.<flow run id>` (labels `aura.stage`, `aura.correlation-id`) and it
is related to the flow run (`prefect.flow-run.<id>`, role `flow-run`); Prefect adds the flow, the
deployment and the work pool when there is one. The payload holds the report's fields (`stage`,
`done`, `total`, `message`, `state`), `percentage` (the whole run, 0 to 100, weighted by
STAGE_WEIGHTS and within a stage by items done), `flow_run_id`, `correlation_id`, and the report's
place: `attempt` (the flow run's run count) and `seq` (1, 2, ... within the attempt). To stream one
run, filter events by name prefix `aura.stage.` and related resource `prefect.flow-run.<id>`, and
order them by `(attempt, seq)`: the server's order (by time) is not the order they were made in
when they arrive in different batches, and a stream must give the same ids on every read.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from tasks.runtime.progress import REPORT_STATES, Progress, RunView, Stage, fold

if TYPE_CHECKING:
    from prefect.client.orchestration import PrefectClient

__all__ = [
    "EVENT_FOR_STATE", "RunProgress", "current_flow_run_id", "emit_stage_event", "event_name",
    "progress_from_event", "read_stage_reports", "stage_payload",
]

EVENT_FOR_STATE: dict[str, str] = {
    "started": "aura.stage.started",
    "item": "aura.stage.progress",
    "running": "aura.stage.progress",
    "finished": "aura.stage.finished",
    "degraded": "aura.stage.degraded",
    "failed": "aura.stage.failed",
}


def event_name(state: str) -> str:
    """The Prefect event name for a report's state (unknown states count as progress)."""
    return EVENT_FOR_STATE.get(state, "aura.stage.progress")


def progress_from_event(name: str, payload: dict[str, Any], occurred: float) -> tuple[tuple[int, int], Progress] | None:
    """The report an `aura.stage.*` event carries, with its place `(attempt, seq)`; None if it is not one."""
    if not name.startswith("aura.stage.") or payload.get("stage") not in set(Stage):
        return None
    state = str(payload.get("state") or name.removeprefix("aura.stage."))
    state = "item" if state == "progress" else state
    if state not in REPORT_STATES:
        return None
    place = (_count(payload.get("attempt")), _count(payload.get("seq")))
    return place, Progress(Stage(payload["stage"]), _count(payload.get("done")), _count(payload.get("total")),
                           str(payload.get("message", "")), state, occurred)  # type: ignore[arg-type]


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


class RunProgress:
    """One run's progress folded from its reports (thread-safe), numbering them as they come."""

    def __init__(self) -> None:
        self.view = RunView()
        self.seq = 0
        self._lock = threading.Lock()

    def update(self, event: Progress) -> float:
        """Count one report and return the run's percentage after it."""
        with self._lock:
            self.view = fold(self.view, event)
            self.seq += 1
            return self.view.percentage

    def fraction(self, stage: str) -> float:
        """Share of `stage` that is done, 0 to 1."""
        return self.view.stages[Stage(stage)].fraction

    @property
    def percentage(self) -> float:
        """The whole run's progress, 0 to 100."""
        return self.view.percentage


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


def stage_payload(event: Progress, percentage: float, flow_run_id: str, correlation_id: str,
                  place: tuple[int, int] = (0, 0)) -> dict[str, Any]:
    """The payload of a stage event; `place` is (attempt, seq)."""
    return {
        "stage": str(event.stage), "done": event.done, "total": event.total, "message": event.message,
        "state": event.state, "percentage": percentage, "flow_run_id": flow_run_id,
        "correlation_id": correlation_id, "attempt": place[0], "seq": place[1],
    }


def emit_stage_event(event: Progress, percentage: float, flow_run_id: str, correlation_id: str,
                     place: tuple[int, int] = (0, 0)) -> None:
    """Send the Prefect event for one progress report of the flow run `flow_run_id`."""
    from prefect.events import emit_event

    emit_event(
        event=event_name(event.state),
        resource={
            "prefect.resource.id": f"aura.run.{flow_run_id}",
            "aura.stage": str(event.stage),
            "aura.correlation-id": correlation_id,
        },
        related=[
            {"prefect.resource.id": f"prefect.flow-run.{flow_run_id}", "prefect.resource.role": "flow-run"},
        ],
        payload=stage_payload(event, percentage, flow_run_id, correlation_id, place),
    )


async def read_stage_reports(client: PrefectClient, flow_run_id: UUID, since: datetime,
                             most: int = 5000) -> dict[tuple[int, int], Progress]:
    """The flow run's reports stored in Prefect so far, by place `(attempt, seq)`.

    Reports of a flow that does not number them (place (0, 0)) are placed in the server's order, by time.
    """
    from prefect.events.filters import (
        EventAnyResourceFilter,
        EventFilter,
        EventNameFilter,
        EventOccurredFilter,
        EventOrder,
    )

    event_filter = EventFilter(
        occurred=EventOccurredFilter(since=since, until=datetime.now(UTC) + timedelta(minutes=5)),
        event=EventNameFilter(prefix=["aura.stage."]),
        any_resource=EventAnyResourceFilter(id=[f"prefect.flow-run.{flow_run_id}"]),
        order=EventOrder.ASC,
    )
    page = await client.read_events(filter=event_filter, limit=50)
    events = list(page.events)
    while page.next_page is not None and len(events) < most:
        page = await client.read_events_page(str(page.next_page))
        events.extend(page.events)
    reports, unnumbered = {}, 0
    for event in events:
        found = progress_from_event(event.event, dict(event.payload or {}), event.occurred.timestamp())
        if found is None:
            continue
        place, report = found
        if place[1] == 0:
            unnumbered += 1
            place = (0, unnumbered)
        reports[place] = report
    return reports
