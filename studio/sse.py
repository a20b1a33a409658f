"""Server-sent events for a job: its event log from `Last-Event-ID` on, heartbeats, then the end.

Each event carries the id of its place in the job's log, so a client that reconnects with the
`Last-Event-ID` header (browsers do so by themselves) gets exactly the events it missed. A
heartbeat is an SSE comment line, which has no id and moves nothing. After `done` or `error` the
stream ends; a reconnect after that is answered 204, which tells an EventSource to stop.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from studio.jobs import Job, JobEvent

__all__ = ["RETRY_MS", "Message", "format_event", "job_stream", "parse_lines"]

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
    yield f"retry: {RETRY_MS}\n: stream of job {job.job_id}\n\n".encode()
    cursor = last_id
    while not closing():
        for event in job.events_after(cursor):
            yield format_event(event, decorate(event))
            cursor = event.id
            if event.kind in ("done", "error"):
                return
        if not await job.wait_for_change(cursor, heartbeat):
            yield b": ping\n\n"


@dataclass(frozen=True)
class Message:
    """One event as a client reads it."""

    id: int | None
    event: str
    data: dict[str, Any]


def parse_lines(lines: Iterable[str]) -> Iterator[Message]:
    """Client side: turn the lines of an SSE stream into messages (comments and `retry` skipped)."""
    fields: dict[str, str] = {}
    for raw in lines:
        line = raw.rstrip("\r\n")
        if not line:
            if "data" in fields:
                ident = fields.get("id", "")
                yield Message(int(ident) if ident.isdigit() else None, fields.get("event", "message"),
                              json.loads(fields["data"]))
            fields = {}
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        fields[name] = value.removeprefix(" ") if name != "data" or "data" not in fields else (
            fields["data"] + "\n" + value.removeprefix(" "))
