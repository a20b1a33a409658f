"""Server-sent events for a job: its event log from `Last-Event-ID` on, heartbeats, then the end.

Each event carries the id of its place in the job's log, so a client that reconnects with the
`Last-Event-ID` header (browsers do so by themselves) gets exactly the events it missed. A
heartbeat is an SSE comment line, which has no id and moves nothing. After `done` or `error` the
stream ends; a reconnect after that is answered 204, which tells an EventSource to stop.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from studio.jobs import Job, JobEvent

__all__ = ["RETRY_MS", "format_event", "job_stream"]

RETRY_MS = 2000


def format_event(event: JobEvent, data: dict[str, Any]) -> bytes:
    """One event in the SSE wire format."""
    payload = json.dumps(data, separators=(",", ":"), default=str)
    return f"id: {event.id}\nevent: {event.kind}\ndata: {payload}\n\n".encode()


async def job_stream(
    job: Job,
    last_id: int,
    *,
    decorate: Callable[[JobEvent], dict[str, Any]],
    heartbeat: float,
    closing: Callable[[], bool],
) -> AsyncIterator[bytes]:
    """Yield the job's events after `last_id` as they come, with a heartbeat every `heartbeat` seconds."""
    yield f"retry: {RETRY_MS}\n: stream of job {job.meta.job_id}\n\n".encode()
    cursor = last_id
    while not closing():
        for event in job.events_after(cursor):
            yield format_event(event, decorate(event))
            cursor = event.id
            if event.kind in ("done", "error"):
                return
        if not await job.wait_for_change(cursor, heartbeat):
            yield b": ping\n\n"
