"""The REST API over real HTTP on loopback, its jobs run by a Prefect runner: real jobs end to end, SSE resume,
Range downloads, restart, cancel from the API and from Prefect, a job no runner takes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import psutil
import pytest

from studio.sse import Message, parse_lines
from tests.studio.conftest import job_processes, unserved_deployment

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

TINY: dict[str, Any] = {
    "brief": "How honeybees communicate",
    "durationSeconds": 10,
    "options": {"resolution": "360p", "fps": 24, "quality": "draft", "audience": "test viewers", "density": "sparse"},
}


@dataclass
class Live:
    base: str
    home: Path
    app: Any
    http: httpx.Client


@contextmanager
def live_api(home: Path, deployment: str, **overrides: Any) -> Iterator[Live]:
    """The API under uvicorn on a free loopback port, with AURA_HOME = `home`, sending jobs to `deployment`."""
    from providers.settings import get_settings
    from studio.api import ApiSettings, create_app
    from tests.studio.served import running_server

    values = {"deployment": deployment, "heartbeat_seconds": 0.5, "rate_per_minute": 0, "generate_per_minute": 0,
              **overrides}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AURA_HOME", str(home))
        get_settings.cache_clear()
        app = create_app(ApiSettings(**values))
        try:
            with running_server(app) as base, httpx.Client(base_url=base, timeout=30) as http:
                yield Live(base, home, app, http)
        finally:
            get_settings.cache_clear()


def stream(live: Live, job_id: str, last_id: int | None = None, stop_after: int | None = None,
           timeout: float = 240) -> list[Message]:
    """Read the job's SSE stream until it ends (or `stop_after` events); check ids and percentages as they come."""
    headers = {"Last-Event-ID": str(last_id)} if last_id is not None else {}
    messages: list[Message] = []
    with live.http.stream("GET", f"/api/videos/{job_id}/stream", headers=headers,
                          timeout=httpx.Timeout(timeout, read=30)) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        for message in parse_lines(response.iter_lines()):
            messages.append(message)
            if stop_after is not None and len(messages) >= stop_after:
                break
    return messages


def check_log(messages: list[Message], first_id: int = 1) -> None:
    """Ids run on without a gap; the percentage never goes down; exactly one terminal event, last."""
    assert [m.id for m in messages] == list(range(first_id, first_id + len(messages)))
    percentages = [m.data["percentage"] for m in messages if "percentage" in m.data]
    assert percentages == sorted(percentages)
    assert [m.event for m in messages].count("done") + [m.event for m in messages].count("error") <= 1


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, job_runner: str) -> Iterator[Live]:
    with live_api(tmp_path_factory.mktemp("api-home"), job_runner) as running:
        yield running


@pytest.fixture(scope="module")
def finished(live: Live) -> dict[str, Any]:
    """One tiny real job, submitted and streamed until done."""
    started = time.monotonic()
    created = live.http.post("/api/videos/generate", json=TINY)
    assert created.status_code == 202, created.text
    body = created.json()
    messages = stream(live, body["jobId"])
    return {"created": body, "headers": created.headers, "messages": messages,
            "seconds": time.monotonic() - started}


def test_generate_answers_202_with_the_job(finished: dict[str, Any]) -> None:
    body = finished["created"]
    assert set(body) >= {"jobId", "status", "correlationId", "createdAt"}
    assert body["status"] == "pending"
    assert finished["headers"]["location"] == f"/api/videos/{body['jobId']}/status"
    assert finished["headers"]["x-correlation-id"] == body["correlationId"]


def test_stream_runs_to_done_with_increasing_ids_and_progress(finished: dict[str, Any]) -> None:
    messages = finished["messages"]
    check_log(messages)
    kinds = [m.event for m in messages]
    assert kinds[-1] == "done" and kinds.count("done") == 1
    progress = [m for m in messages if m.event == "progress"]
    assert {m.data["stage"] for m in progress} == {"brief", "script", "voice", "visuals", "composition"}
    for m in progress:
        assert set(m.data) >= {"percentage", "stage", "message", "etaSeconds", "current", "total"}
        assert m.data["percentage"] < 100  # 100 is for the finished video
    done = messages[-1].data
    assert done["percentage"] == 100
    assert done["videoUrl"] == f"/api/videos/{finished['created']['jobId']}/download"
    print(f"tiny job end to end over HTTP: {finished['seconds']:.1f} s, {len(messages)} events")


def test_status_when_done(live: Live, finished: dict[str, Any]) -> None:
    job_id = finished["created"]["jobId"]
    status = live.http.get(f"/api/videos/{job_id}/status").json()
    assert status["status"] == "done"
    assert status["progressPercentage"] == 100
    assert status["videoUrl"] == f"/api/videos/{job_id}/download"
    assert status["prefectState"] == "Completed"
    assert status["completedAt"] and status["createdAt"] <= status["completedAt"]
    assert [s["stage"] for s in status["processingSteps"]] == ["brief", "script", "voice", "visuals", "composition"]
    assert all(s["status"] == "done" for s in status["processingSteps"])
    assert status["error"] is None


def test_download_with_range_and_probe(live: Live, finished: dict[str, Any], tmp_path: Path) -> None:
    from providers.media.streams import probe

    url = f"/api/videos/{finished['created']['jobId']}/download"
    head = live.http.head(url)
    assert head.status_code == 200 and head.headers["accept-ranges"] == "bytes"
    size = int(head.headers["content-length"])

    part = live.http.get(url, headers={"Range": "bytes=0-99"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 0-99/{size}"
    assert len(part.content) == 100 and part.content[4:8] == b"ftyp"

    tail = live.http.get(url, headers={"Range": "bytes=-64"})
    assert tail.status_code == 206 and len(tail.content) == 64
    middle = live.http.get(url, headers={"Range": f"bytes={size // 2}-"})
    assert middle.status_code == 206 and len(middle.content) == size - size // 2
    assert live.http.get(url, headers={"Range": f"bytes={size + 10}-"}).status_code == 416

    whole = live.http.get(url)
    assert whole.status_code == 200 and whole.headers["content-type"] == "video/mp4"
    assert whole.content[:100] == part.content and whole.content[-64:] == tail.content
    target = tmp_path / "download.mp4"
    target.write_bytes(whole.content)
    info = probe(target)
    assert info.video_codec == "h264" and info.audio_codec == "aac"
    assert (info.width, info.height) == (640, 360)
    assert 8 <= info.duration <= 20
    assert abs(info.fps - 24) < 0.1


def test_reconnect_with_last_event_id_misses_nothing(live: Live, finished: dict[str, Any]) -> None:
    job_id = finished["created"]["jobId"]
    full = finished["messages"]
    for cut in (0, 1, len(full) // 2, len(full) - 1):
        rest = stream(live, job_id, last_id=cut)
        assert rest == full[cut:], f"resuming after event {cut}"
    # after the terminal event there is nothing more: 204 tells an EventSource to stop reconnecting
    ended = live.http.get(f"/api/videos/{job_id}/stream", headers={"Last-Event-ID": str(full[-1].id)})
    assert ended.status_code == 204


def test_recent_jobs_and_health(live: Live, finished: dict[str, Any]) -> None:
    jobs = live.http.get("/api/videos").json()["jobs"]
    assert finished["created"]["jobId"] in [j["jobId"] for j in jobs]
    health = live.http.get("/healthz")
    assert health.status_code == 200
    assert health.json() == {"status": "ok", "prefect": True, "deployment": live.app.state.manager.deployment,
                             "authRequired": False}
    page = live.http.get("/")
    assert page.status_code == 200 and "<form id=\"brief-form\"" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert live.http.get("/static/app.js").status_code == 200


def test_cancel_of_a_finished_job_is_a_conflict(live: Live, finished: dict[str, Any]) -> None:
    answer = live.http.post(f"/api/videos/{finished['created']['jobId']}/cancel")
    assert answer.status_code == 409
    assert answer.json()["error"] == "already_finished"


def _flow_run_state(job_id: str) -> str:
    from prefect import get_client

    with get_client(sync_client=True) as client:
        state = client.read_flow_run(UUID(job_id)).state
        assert state is not None
        return state.type.value


def _gone(procs: list[psutil.Process]) -> bool:
    return all(not p.is_running() or p.status() == psutil.STATUS_ZOMBIE for p in procs)


def _running_job(live: Live, topic: str) -> tuple[str, list[Message], list[psutil.Process]]:
    """A long job that has begun to report, and its process (the runner's child)."""
    body = {**TINY, "brief": topic, "durationSeconds": 90}
    submitted = time.time()
    job_id = live.http.post("/api/videos/generate", json=body).json()["jobId"]
    first = stream(live, job_id, stop_after=2)
    assert first[0].event == "progress"
    procs = job_processes(submitted)
    assert procs, "the runner runs the job in a process of its own"
    return job_id, first, procs


def test_cancel_kills_the_job_and_cancels_its_flow_run(live: Live) -> None:
    job_id, first, procs = _running_job(live, "How glaciers carve valleys")
    answer = live.http.post(f"/api/videos/{job_id}/cancel")
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] in ("cancelling", "cancelled")
    rest = stream(live, job_id, last_id=first[-1].id)
    assert rest[-1].event == "error" and rest[-1].data["status"] == "cancelled"
    check_log(first + rest)
    assert _flow_run_state(job_id) == "CANCELLED"
    assert _gone(procs)
    status = live.http.get(f"/api/videos/{job_id}/status").json()
    assert status["status"] == "cancelled" and status["videoUrl"] is None
    assert live.http.get(f"/api/videos/{job_id}/download").status_code == 409


def test_cancelling_the_flow_run_in_prefect_stops_the_job(live: Live) -> None:
    """Cancel from the Prefect UI (or `prefect flow-run cancel`): the runner kills the job's process."""
    from prefect import get_client
    from prefect.states import Cancelling

    job_id, first, procs = _running_job(live, "How volcanoes form islands")
    with get_client(sync_client=True) as client:
        client.set_flow_run_state(job_id, Cancelling(message="from the UI"), force=True)
    rest = stream(live, job_id, last_id=first[-1].id)
    assert rest[-1].event == "error" and rest[-1].data["status"] == "cancelled"
    assert _flow_run_state(job_id) == "CANCELLED"
    assert _gone(procs)


def test_job_state_survives_an_api_restart(tmp_path: Path, job_runner: str) -> None:
    """Stop the API while a job renders; a new API process follows it to the end without losing an event."""
    home = tmp_path / "home"
    body = {**TINY, "brief": "How tides follow the moon", "durationSeconds": 120}
    with live_api(home, job_runner) as first:
        job_id = first.http.post("/api/videos/generate", json=body).json()["jobId"]
        before = stream(first, job_id, stop_after=3)
    with live_api(home, job_runner) as second:
        assert second.http.get(f"/api/videos/{job_id}/status").json()["status"] == "running"
        after = stream(second, job_id, last_id=before[-1].id)
        status = second.http.get(f"/api/videos/{job_id}/status").json()
        again = stream(second, job_id)
    log = before + after
    check_log(log)
    assert log[-1].event == "done"
    assert again == log  # the same ids and payloads as the first API process sent
    assert status["status"] == "done" and status["progressPercentage"] == 100


def test_a_job_no_runner_takes_fails_in_seconds_saying_why(tmp_path: Path) -> None:
    """A deployment nobody serves (a stale one in the database, a stopped worker): the job fails, it does not wait."""
    unserved_deployment("nobody-serves")  # created, then never polled
    with live_api(tmp_path / "home", "make-video/nobody-serves", pickup_seconds=2) as live:
        refused = live.http.post("/api/videos/generate", json=TINY)
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"] == "no_runner" and "nobody-serves" in refused.json()["message"]


def test_a_job_whose_runner_stops_fails_in_seconds_saying_why(tmp_path: Path) -> None:
    """The runner polled, then stopped before taking the job: the job ends Failed with the reason."""
    from studio.runner import JobRunner

    runner = JobRunner(name="soon-gone", limit=1, query_seconds=0.5)
    deployment = runner.start()
    runner.stop()
    with live_api(tmp_path / "home", deployment, pickup_seconds=10) as live:
        created = live.http.post("/api/videos/generate", json=TINY)
        assert created.status_code == 202, created.text
        started = time.monotonic()
        log = stream(live, created.json()["jobId"], timeout=60)
    assert log[-1].event == "error" and log[-1].data["status"] == "failed"
    assert "no runner took the job" in log[-1].data["message"] and "soon-gone" in log[-1].data["message"]
    assert time.monotonic() - started < 60


def test_an_expired_video_answers_410_and_the_job_stays_done(live: Live, finished: dict[str, Any]) -> None:
    """The retention pass the API runs (here as if 30 days had gone by) removes the video, not the job."""
    from studio.retention import prune_ended_jobs

    job_id = finished["created"]["jobId"]
    assert live.http.head(f"/api/videos/{job_id}/download").status_code == 200
    pruned = prune_ended_jobs(live.home, keep_seconds=7 * 86_400, now=time.time() + 30 * 86_400)
    assert pruned.jobs >= 1 and pruned.bytes > 0
    answer = live.http.get(f"/api/videos/{job_id}/download")
    assert answer.status_code == 410, answer.text
    assert answer.json()["error"] == "expired" and "AURA_API_KEEP_DAYS" in answer.json()["message"]
    status = live.http.get(f"/api/videos/{job_id}/status").json()
    assert status["status"] == "done" and status["progressPercentage"] == 100
