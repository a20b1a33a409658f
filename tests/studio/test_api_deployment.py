"""Jobs through a deployment the API does not serve itself: progress from `aura.stage.*` events, a worker's
deployment (`AURA_API_DEPLOYMENT`), and the stale-deployment case."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from studio.jobs import JobManager
from studio.sse import Message, parse_lines
from tests.studio.conftest import unserved_deployment

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[2]
TINY: dict[str, Any] = {"brief": "How honeybees communicate", "durationSeconds": 10,
                        "options": {"resolution": "360p", "fps": 24, "quality": "draft", "density": "sparse"}}


@contextmanager
def serve(home: Path, manager: JobManager | None = None, **overrides: Any) -> Iterator[httpx.Client]:
    from providers.settings import get_settings
    from studio.api import ApiSettings, create_app
    from tests.studio.served import running_server

    values = {"heartbeat_seconds": 0.5, "rate_per_minute": 0, "generate_per_minute": 0, **overrides}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AURA_HOME", str(home))
        get_settings.cache_clear()
        app = create_app(ApiSettings(**values), manager=manager)
        try:
            with running_server(app) as base, httpx.Client(base_url=base, timeout=30) as http:
                yield http
        finally:
            get_settings.cache_clear()


def read_stream(http: httpx.Client, job_id: str) -> list[Message]:
    with http.stream("GET", f"/api/videos/{job_id}/stream", timeout=httpx.Timeout(300, read=60)) as response:
        assert response.status_code == 200
        return list(parse_lines(response.iter_lines()))


def test_stage_events_of_a_deployment_run_become_its_stream(tmp_path: Path) -> None:
    """The contract with tasks/runtime/events.py: `aura.stage.<state>` events related to the flow run."""
    from prefect import get_client
    from prefect.events import emit_event
    from prefect.states import Completed, Running


    home = tmp_path / "home"
    unserved_deployment("played-by-the-test")  # the test plays its runner
    manager = JobManager(home, "make-video/played-by-the-test", pickup_seconds=None,
                         last_event_seconds=8)  # this played run never composes: its log closes on time
    with serve(home, manager) as http:
        created = http.post("/api/videos/generate", json=TINY).json()
        job_id = created["jobId"]
        assert http.get(f"/api/videos/{job_id}/status").json()["status"] == "pending"
        with get_client(sync_client=True) as client:
            client.set_flow_run_state(job_id, Running(), force=True)
            flow_run = client.read_flow_run(job_id)
        reports = [("brief", 0, 1, "started"), ("brief", 1, 1, "finished"), ("script", 0, 1, "started"),
                   ("script", 1, 1, "finished"), ("voice", 0, 1, "started"), ("voice", 1, 2, "progress"),
                   ("voice", 1, 2, "progress"), ("voice", 2, 2, "finished")]
        for seq, (stage, done, total, state) in enumerate(reports, 1):
            emit_event(event=f"aura.stage.{state}", resource={"prefect.resource.id": f"aura.stage.{stage}"},
                       related=[{"prefect.resource.id": f"prefect.flow-run.{job_id}",
                                 "prefect.resource.role": "flow-run"}],
                       payload={"stage": stage, "done": done, "total": total, "message": f"{stage} {state}",
                                "state": "item" if state == "progress" else state, "percentage": 0,
                                "attempt": 1, "seq": seq})
            time.sleep(0.05)
        deadline = time.monotonic() + 60
        while http.get(f"/api/videos/{job_id}/status").json()["progressPercentage"] < 50:
            assert time.monotonic() < deadline, "the stage events never reached the job"
            time.sleep(0.5)
        out = Path(flow_run.parameters["out"])
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / "tests" / "fakes" / "media.py", out)  # any bytes: the worker 'rendered' it
        with get_client(sync_client=True) as client:
            client.set_flow_run_state(job_id, Completed(), force=True)
        messages = read_stream(http, job_id)
        status = http.get(f"/api/videos/{job_id}/status").json()

    assert [m.id for m in messages] == list(range(1, len(messages) + 1))
    progress = [m for m in messages if m.event == "progress"]
    assert [(m.data["stage"], m.data["state"]) for m in progress] == [
        (stage, "item" if state == "progress" else state) for stage, _, _, state in reports]
    assert [m.data["percentage"] for m in progress] == [0, 5, 5, 25, 25, 37.5, 50, 50]
    assert messages[-1].event == "done" and messages[-1].data["videoUrl"].endswith("/download")
    assert status["status"] == "done" and status["progressPercentage"] == 100


def test_a_job_runs_through_a_workers_deployment(tmp_path: Path) -> None:
    """AURA_API_DEPLOYMENT: a deployment served elsewhere (here `serve()` in another process) runs the job."""
    from prefect.settings import PREFECT_API_URL

    home = tmp_path / "home"
    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value()), "AURA_HOME": str(home),
           "PREFECT_RUNNER_POLL_FREQUENCY": "1", "PREFECT_LOGGING_LEVEL": "WARNING"}
    script = ("from prefect import serve; from prefect.deployments.runner import EntrypointType; "
              "from flows.make_video import make_video; "
              "serve(make_video.to_deployment(name='api-test', entrypoint_type=EntrypointType.MODULE_PATH))")
    runner = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, env=env, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        with serve(home, deployment="make-video/api-test", pickup_seconds=30) as http:
            deadline = time.monotonic() + 120
            while True:  # the runner registers the deployment when it starts, then polls it
                answer = http.post("/api/videos/generate", json=TINY)
                if answer.status_code == 202:
                    break
                assert answer.status_code == 503 and answer.json()["error"] == "no_runner", answer.text
                assert time.monotonic() < deadline and runner.poll() is None, "the deployment never appeared"
                time.sleep(1)
            job_id = answer.json()["jobId"]
            messages = read_stream(http, job_id)
            status = http.get(f"/api/videos/{job_id}/status").json()
            video = http.get(status["videoUrl"], headers={"Range": "bytes=0-15"})
            jobs = http.get("/api/videos").json()["jobs"]
    finally:
        os.killpg(runner.pid, 9)
        runner.wait()
    assert [m.id for m in messages] == list(range(1, len(messages) + 1))
    assert messages[-1].event == "done", messages
    # the run's `aura.stage.*` events (tasks/runtime/events.py) reached the stream, in a non-decreasing percentage
    stages = {m.data["stage"] for m in messages if m.event == "progress" and m.data["state"] == "finished"}
    assert stages == {"brief", "script", "voice", "visuals", "composition"}
    percentages = [m.data["percentage"] for m in messages]
    assert percentages == sorted(percentages)
    assert status["status"] == "done" and status["prefectState"] == "Completed"
    assert status["progressPercentage"] == 100
    assert video.status_code == 206 and video.content[4:8] == b"ftyp"
    assert job_id in [j["jobId"] for j in jobs]
    from prefect import get_client

    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(job_id)
    assert flow_run.deployment_id is not None and "aura-api" in flow_run.tags
    assert f"correlation-id:{status['correlationId']}" in flow_run.tags


def test_a_stale_deployment_of_the_same_name_is_taken_over(tmp_path: Path, job_runner: str) -> None:
    """The reported bug: an old deployment in the local database that nobody serves. The runner `aura serve`
    starts registers its own deployment under its name, whatever was there, and then serves it."""
    from prefect import get_client

    from studio.runner import JobRunner

    unserved_deployment("taken-over", tags=["stale"])
    runner = JobRunner(name="taken-over", limit=1, query_seconds=0.5)
    deployment = runner.start()
    try:
        with get_client(sync_client=True) as client:
            taken = client.read_deployment_by_name(deployment)
        assert "stale" not in (taken.tags or []) and "aura-serve" in (taken.tags or [])
        with serve(tmp_path / "home", deployment=deployment) as http:
            created = http.post("/api/videos/generate", json=TINY)
            assert created.status_code == 202, created.text
            messages = read_stream(http, created.json()["jobId"])
        assert messages[-1].event == "done", messages[-3:]
    finally:
        runner.stop()
