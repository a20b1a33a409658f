"""The pure parts of the API's progress: the one fold, reports from Prefect events, a job's log, SSE parsing."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

import pytest

from studio.jobs import Job, parse_job_id, public_message
from studio.sse import format_event, parse_lines
from tasks.runtime.events import progress_from_event
from tasks.runtime.progress import Progress, RunView, Stage, fold, fold_all


def report(stage: str, done: int, total: int, state: str, at: float = 0.0) -> Progress:
    return Progress(Stage(stage), done, total, f"{stage} {state}", state, at)  # type: ignore[arg-type]


RUN = [
    report("brief", 0, 1, "started"), report("brief", 1, 1, "finished"),
    report("script", 0, 1, "started"), report("script", 1, 1, "finished"),
    report("voice", 0, 1, "started"), report("visuals", 0, 1, "started"),
    report("voice", 1, 4, "item"), report("visuals", 1, 4, "item"), report("voice", 1, 4, "item"),
    report("voice", 0, 4, "running"),  # a note with a smaller count moves nothing back
    report("voice", 1, 4, "item"), report("voice", 1, 4, "item"), report("voice", 4, 4, "finished"),
    report("visuals", 1, 4, "item"), report("visuals", 4, 4, "degraded"),
    report("composition", 0, 1, "started"), report("composition", 1, 4, "item"),
]


def test_percentage_is_weighted_by_stage_and_items_and_never_goes_down() -> None:
    view, seen = RunView(), []
    for one in RUN:
        view = fold(view, one)
        seen.append(view.percentage)
    assert seen == [0, 5, 5, 25, 25, 25, 31.2, 38.8, 37.5 + 7.5, 45, 51.2, 57.5, 57.5, 65, 80, 80, 85]
    assert [s.status for s in view.stages.values()] == ["done", "done", "done", "degraded", "running"]
    for _ in range(5):  # more items than announced: the stage is full, and the live figure stops short of 100
        view = fold(view, report("composition", 1, 4, "item"))
    assert view.percentage == 100 and view.live_percentage == 99
    assert view.stages[Stage.COMPOSITION].done == 4


def test_the_fold_is_pure() -> None:
    start = RunView()
    after = fold(start, RUN[0])
    assert start == RunView() and after != start
    assert fold_all(RUN) == fold_all(RUN)


def test_reports_name_a_known_stage_and_state() -> None:
    with pytest.raises(ValueError):
        Progress("nope", 0, 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Progress(Stage.VOICE, 0, 1, state="exploded")  # type: ignore[arg-type]


@pytest.mark.parametrize(("name", "payload", "state"), [
    ("aura.stage.started", {"stage": "voice", "done": 0, "total": 1, "state": "started"}, "started"),
    ("aura.stage.progress", {"stage": "voice", "done": 1, "total": 3, "state": "item"}, "item"),
    ("aura.stage.progress", {"stage": "voice", "done": 1, "total": 3}, "item"),
    ("aura.stage.progress", {"stage": "voice", "done": 2, "total": 3, "state": "running"}, "running"),
    ("aura.stage.finished", {"stage": "voice", "done": 3, "total": 3}, "finished"),
])
def test_prefect_stage_events_become_reports(name: str, payload: dict[str, object], state: str) -> None:
    found = progress_from_event(name, {**payload, "attempt": 1, "seq": 7}, 12.5)
    assert found is not None
    place, progress = found
    assert place == (1, 7) and progress.state == state and progress.at == 12.5 and progress.stage is Stage.VOICE
    assert progress_from_event("prefect.flow-run.Running", {}, 0) is None
    assert progress_from_event("aura.stage.started", {"stage": "nope"}, 0) is None


def _job(tmp_path: Path) -> Job:
    return Job("0b8e2c1e-5a8f-4c5e-9d43-6f1d2a7b9c10", "", datetime.now(UTC), "", "bees", tmp_path)


def test_a_jobs_log_is_the_same_whatever_order_the_events_arrive_in(tmp_path: Path) -> None:
    """Prefect stores events in batches: a late one must not shift ids a client has already seen."""
    places = {(1, i + 1): r for i, r in enumerate(RUN)}
    reference = _job(tmp_path)
    reference.add_reports(places)
    assert [e.id for e in reference.events] == list(range(1, len(RUN) + 1))
    for seed in range(20):
        order = list(places.items())
        random.Random(seed).shuffle(order)
        job = _job(tmp_path)
        for i in range(0, len(order), 3):  # arriving three at a time, in any order
            job.add_reports(dict(order[i:i + 3]))
            assert job.events == reference.events[:len(job.events)]  # only ever a prefix of the final log
        assert job.events == reference.events


def test_a_gap_holds_the_log_until_the_end_and_a_new_attempt_continues_it(tmp_path: Path) -> None:
    job = _job(tmp_path)
    job.add_reports({(1, 1): RUN[0], (1, 3): RUN[2]})
    assert len(job.events) == 1  # (1, 2) has not arrived yet
    job.add_reports({(2, 1): RUN[3]})  # a retry of the run: its first report follows whatever the last had
    assert len(job.events) == 1
    job.finish("failed", "Traceback (most recent call last):\n ...")
    assert [e.kind for e in job.events] == ["progress", "progress", "progress", "error"]
    assert job.events[-1].data["message"].startswith("the job failed;")
    job.add_reports({(1, 2): RUN[1]})
    assert len(job.events) == 4 and job.status == "failed"  # nothing after the end


def test_a_completed_runs_log_is_whole_once_composition_is_in_without_a_gap(tmp_path: Path) -> None:
    """The API closes a completed run's log on this mark, not on a fixed wait (Prefect stores events late)."""
    ending = [report("composition", 4, 4, "item"), report("composition", 4, 4, "finished")]
    places = {(1, i + 1): r for i, r in enumerate(RUN + ending)}
    last = max(places)
    job = _job(tmp_path)
    job.add_reports({p: r for p, r in places.items() if p != (1, 2)})
    assert not job.has_last_report()  # the finish is in, but held behind the missing second report
    job.add_reports({(1, 2): places[(1, 2)]})
    assert job.has_last_report()
    unfinished = _job(tmp_path)
    unfinished.add_reports({p: r for p, r in places.items() if p != last})
    assert not unfinished.has_last_report()


@pytest.mark.parametrize(("state", "status"), [("CRASHED", "failed"), ("FAILED", "failed"),
                                               ("CANCELLED", "cancelled"), ("COMPLETED", "done")])
def test_every_end_of_a_flow_run_is_a_status_the_api_can_answer(tmp_path: Path, state: str, status: str) -> None:
    """A crashed run (its runner was stopped) once ended as "crashed", which JobStatus refused: a 500."""
    from typing import get_args

    from studio.api import JobStatus
    from studio.jobs import JobManager

    job = _job(tmp_path)
    job.state_type, job.state_name, job.state_message = state, state.title(), "Execution was aborted"
    JobManager(tmp_path, "make-video/x")._finish_from_state(job)
    assert job.status == status and job.status in get_args(JobStatus.model_fields["status"].annotation)
    assert job.events[-1].kind == ("done" if status == "done" else "error")
    if state == "CRASHED":
        assert job.events[-1].data["message"] == "the job's process crashed: Execution was aborted"


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


def test_sse_wire_format_round_trips(tmp_path: Path) -> None:
    job = _job(tmp_path)
    job.add_reports({(1, 1): RUN[0]})
    job.finish("done", video="v")
    wire = b"retry: 2000\n: hello\n\n" + b"".join(format_event(e, {"n": e.id}) for e in job.events)
    messages = list(parse_lines(wire.decode().splitlines(keepends=True)))
    assert [(m.id, m.event, m.data) for m in messages] == [(1, "progress", {"n": 1}), (2, "done", {"n": 2})]
