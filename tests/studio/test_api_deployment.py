"""Jobs that run through a Prefect deployment: progress from `aura.stage.*` events, or from the run's state."""

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

from studio.jobs import DeploymentLauncher, JobManager
from studio.sse import Message, parse_lines

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[2]
TINY: dict[str, Any] = {"brief": "How honeybees communicate", "durationSeconds": 10,
                        "options": {"resolution": "360p", "fps": 24, "quality": "draft", "density": "sparse"}}


@contextmanager
def serve(home: Path, manager: JobManager, **overrides: Any) -> Iterator[httpx.Client]:
    from providers.settings import get_settings
    from studio.api import ApiSettings, create_app
    from studio.server import running_server

    values = {"heartbeat_seconds": 0.5, "rate_per_minute": 0, "generate_per_minute": 0, **overrides}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AURA_HOME", str(home))
        get_settings.cache_clear()
        app = create_app(ApiSettings(**values), manager=manager)
        try:
            with running_server(app) as base, httpx.Client(base_url=base, timeout=30) as http:
                yield http
        finally:
            manager.local.kill_all()
            get_settings.cache_clear()


def read_stream(http: httpx.Client, job_id: str) -> list[Message]:
    with http.stream("GET", f"/api/videos/{job_id}/stream", timeout=httpx.Timeout(300, read=60)) as response:
        assert response.status_code == 200
        return list(parse_lines(response.iter_lines()))


class Unworked(DeploymentLauncher):
    """A 'deployment' whose runs nobody executes: the test plays the worker (events and states)."""

    async def create(self, client: Any, parameters: dict[str, Any], tags: list[str]) -> Any:
        from prefect.states import Scheduled

        from flows.make_video import make_video

        return await client.create_flow_run(make_video, parameters=parameters, tags=tags, state=Scheduled())


def test_stage_events_of_a_deployment_run_become_its_stream(tmp_path: Path) -> None:
    """The contract with tasks/runtime/events.py: `aura.stage.<state>` events related to the flow run."""
    from prefect import get_client
    from prefect.events import emit_event
    from prefect.states import Completed, Running

    home = tmp_path / "home"
    manager = JobManager(home, runner="deployment", events_grace_seconds=8)
    manager.deployed = Unworked("make-video/none")

    async def use_it() -> DeploymentLauncher:
        return manager.deployed

    manager._launcher = use_it  # type: ignore[method-assign]
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
        for stage, done, total, state in reports:
            emit_event(event=f"aura.stage.{state}", resource={"prefect.resource.id": f"aura.stage.{stage}"},
                       related=[{"prefect.resource.id": f"prefect.flow-run.{job_id}",
                                 "prefect.resource.role": "flow-run"}],
                       payload={"stage": stage, "done": done, "total": total, "message": f"{stage} {state}",
                                "state": "item" if state == "progress" else state, "percentage": 0})
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
    progress = [m for m in messages if m.event == "progress" and m.data["stage"] in ("brief", "script", "voice")
                and m.data["state"] != "running"]
    assert [(m.data["stage"], m.data["state"]) for m in progress] == [
        (stage, "item" if state == "progress" else state) for stage, _, _, state in reports]
    assert [m.data["percentage"] for m in progress] == [0, 5, 5, 25, 25, 37.5, 50, 50]
    assert any(m.data["message"] == "flow run Running" for m in messages)  # the state, before any event
    assert messages[-1].event == "done" and messages[-1].data["videoUrl"].endswith("/download")
    assert status["status"] == "done" and status["progressPercentage"] == 100


def test_a_job_runs_through_a_served_deployment(tmp_path: Path) -> None:
    """A real served deployment executes the job; the API sees only Prefect: the run's state and stage events."""
    from prefect.settings import PREFECT_API_URL

    home = tmp_path / "home"
    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value()), "AURA_HOME": str(home),
           "PREFECT_RUNNER_POLL_FREQUENCY": "1", "PREFECT_LOGGING_LEVEL": "WARNING"}
    # a module-path entrypoint: loaded from the file path, the flow's postponed annotations do not resolve
    # (`Make_VideoModel is not fully defined`), a problem of the flow file's deployment, not of the API
    script = ("from prefect import serve; from prefect.deployments.runner import EntrypointType; "
              "from flows.make_video import make_video; "
              "serve(make_video.to_deployment(name='api-test', entrypoint_type=EntrypointType.MODULE_PATH))")
    runner = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, env=env, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        manager = JobManager(home, runner="deployment", deployment="make-video/api-test")
        with serve(home, manager, runner="deployment", deployment="make-video/api-test") as http:
            deadline = time.monotonic() + 120
            while True:  # the runner registers the deployment when it starts
                answer = http.post("/api/videos/generate", json=TINY)
                if answer.status_code == 202:
                    break
                assert answer.status_code == 503 and answer.json()["error"] == "no_deployment", answer.text
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
    # the worker's `aura.stage.*` events (tasks/runtime/events.py) reached the stream, in a non-decreasing percentage
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
    assert flow_run.deployment_id is not None and "aura-deployment" in flow_run.tags
    assert f"correlation-id:{status['correlationId']}" in flow_run.tags
