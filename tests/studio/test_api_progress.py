"""The pure parts of the API: the progress tracker, event records from Prefect events, job ids, SSE parsing."""

from __future__ import annotations

import pytest

from studio.jobs import ProgressTracker, event_record, parse_job_id, public_message
from studio.sse import format_event, parse_lines


def report(stage: str, done: int, total: int, state: str, at: float = 0.0) -> dict[str, object]:
    return {"t": "progress", "stage": stage, "done": done, "total": total, "state": state,
            "message": f"{stage} {state}", "at": at}


def test_percentage_is_weighted_by_stage_and_items_and_never_goes_down() -> None:
    tracker = ProgressTracker()
    seen = []
    for record in [
        report("brief", 0, 1, "started"), report("brief", 1, 1, "finished"),
        report("script", 0, 1, "started"), report("script", 1, 1, "finished"),
        report("voice", 0, 1, "started"), report("visuals", 0, 1, "started"),
        report("voice", 1, 4, "item"), report("visuals", 1, 4, "item"), report("voice", 1, 4, "item"),
        report("voice", 0, 4, "running"),  # a note with a smaller count moves nothing back
        report("voice", 1, 4, "item"), report("voice", 1, 4, "item"), report("voice", 4, 4, "finished"),
        report("visuals", 1, 4, "item"), report("visuals", 4, 4, "degraded"),
        report("composition", 0, 1, "started"), report("composition", 1, 4, "item"),
    ]:
        event = tracker.apply(record)
        assert event is not None and event.kind == "progress"
        seen.append(event.data["percentage"])
    assert seen == [0, 5, 5, 25, 25, 25, 31.2, 38.8, 37.5 + 7.5, 45, 51.2, 57.5, 57.5, 65, 80, 80, 85]
    assert seen == sorted(seen)
    assert [s["status"] for s in tracker.steps()] == ["done", "done", "done", "degraded", "running"]
    for _ in range(5):  # more items than announced still stop short of 100 until the video is done
        tracker.apply(report("composition", 1, 4, "item"))
    assert tracker.percentage == 99
    done = tracker.apply({"t": "done", "video": "/x.mp4", "title": "t"})
    assert done is not None and done.kind == "done" and done.data["percentage"] == 100
    assert tracker.apply(report("voice", 1, 4, "item")) is None  # nothing after the end


def test_ids_count_records_and_an_error_ends_the_log() -> None:
    tracker = ProgressTracker()
    events = [tracker.apply(r) for r in (report("brief", 0, 1, "started"), {"t": "bogus"},
                                          report("nope", 0, 1, "started"),
                                          {"t": "error", "status": "weird", "message": "x\nTraceback ..."})]
    assert [e.id if e else None for e in events] == [1, None, None, 2]
    assert events[3] is not None and events[3].data["status"] == "failed"


@pytest.mark.parametrize(("name", "payload", "state"), [
    ("aura.stage.started", {"stage": "voice", "done": 0, "total": 1, "state": "started"}, "started"),
    ("aura.stage.progress", {"stage": "voice", "done": 1, "total": 3, "state": "item"}, "item"),
    ("aura.stage.progress", {"stage": "voice", "done": 1, "total": 3}, "item"),
    ("aura.stage.progress", {"stage": "voice", "done": 2, "total": 3, "state": "running"}, "running"),
    ("aura.stage.finished", {"stage": "voice", "done": 3, "total": 3}, "finished"),
])
def test_prefect_stage_events_become_progress_records(name: str, payload: dict[str, object], state: str) -> None:
    record = event_record(name, payload, 12.5)
    assert record is not None and record["state"] == state and record["at"] == 12.5
    assert event_record("prefect.flow-run.Running", {}, 0) is None


@pytest.mark.parametrize("text", ["../../etc/passwd", "", "0b8e2c1e-5a8f-4c5e-9d43-6f1d2a7b9c1",
                                  "0b8e2c1e-5a8f-4c5e-9d43-6f1d2a7b9c100", "0b8e2c1e5a8f4c5e9d436f1d2a7b9c10",
                                  "{0b8e2c1e-5a8f-4c5e-9d43-6f1d2a7b9c10}", "0b8e2c1e-5a8f-4c5e-9d43-6f1d2a7b9c1g",
                                  "0b8e2c1e-5a8f-4c5e-9d43-6f1d2a7b9c10\n"])
def test_job_ids_must_be_exact_uuids(text: str) -> None:
    assert parse_job_id(text) is None
    assert str(parse_job_id("0B8E2C1E-5a8f-4c5e-9d43-6f1d2a7b9c10")) == "0b8e2c1e-5a8f-4c5e-9d43-6f1d2a7b9c10"


def test_public_messages_drop_tracebacks() -> None:
    assert public_message("Traceback (most recent call last):\n  File x").startswith("the job failed;")
    assert public_message("MediaError: ffmpeg failed\nmore") == "MediaError: ffmpeg failed"
    assert len(public_message("x" * 1000)) == 300


def test_sse_wire_format_round_trips() -> None:
    tracker = ProgressTracker()
    events = [tracker.apply(report("brief", 0, 1, "started")), tracker.apply({"t": "done", "video": "v"})]
    wire = b"retry: 2000\n: hello\n\n" + b"".join(format_event(e, {"n": e.id}) for e in events if e)
    messages = list(parse_lines(wire.decode().splitlines(keepends=True)))
    assert [(m.id, m.event, m.data) for m in messages] == [(1, "progress", {"n": 1}), (2, "done", {"n": 2})]
