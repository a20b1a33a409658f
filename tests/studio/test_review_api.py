"""Review through the REST API: a job with `review` is a deployment run that Prefect *suspends* after its
script (its process ends, no runner slot waits); the API reads the waiting script and answers it, and
Prefect starts the run again, which comes back to the review point through its cached tasks.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from tests.studio.conftest import job_processes
from tests.studio.test_api import TINY, Live, live_api, stream

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, job_runner: str) -> Iterator[Live]:
    with live_api(tmp_path_factory.mktemp("review-home"), job_runner) as running:
        yield running


def _waiting(live: Live, job_id: str, timeout: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = live.http.get(f"/api/videos/{job_id}/review")
        if answer.status_code == 200:
            return dict(answer.json())
        assert answer.status_code == 409, answer.text
        time.sleep(0.5)
    raise TimeoutError(f"job {job_id} never waited in review")


def _runs_a_flow(proc: psutil.Process) -> bool:
    """A live process of the runner's that runs a flow (not multiprocessing's resource tracker)."""
    try:
        return proc.status() != psutil.STATUS_ZOMBIE and "resource_tracker" not in " ".join(proc.cmdline())
    except psutil.Error:
        return False


def _task_states(job_id: str, name: str) -> list[str]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[job_id])))
    return sorted(r.state.name for r in runs if r.name.startswith(name) and r.state is not None)


def test_a_suspended_job_is_edited_and_approved_through_the_api(live: Live) -> None:
    since = time.time()
    # a topic of its own: another test's script for TINY's topic would already be in the session's cache
    fresh = {**TINY, "brief": f"How honeybees communicate ({uuid.uuid4().hex[:8]})"}
    created = live.http.post("/api/videos/generate", json={**fresh, "review": True})
    assert created.status_code == 202, created.text
    job = created.json()["jobId"]
    waiting = _waiting(live, job)
    assert waiting["state"] == "Suspended"  # a deployment run: suspended, its process gone
    scenes = waiting["script"]["scenes"]
    assert scenes and scenes[0]["narration"] in waiting["description"]
    assert "the rest of the run costs" in waiting["description"]
    assert not list((live.home / "runs").glob("*/voice/*")), "nothing is spoken before the approval"
    deadline = time.monotonic() + 60  # the suspended run's process exits: it holds no runner slot while it waits
    while alive := [p for p in job_processes(since) if _runs_a_flow(p)]:
        assert time.monotonic() < deadline, f"the suspended run's process is still alive: {alive}"
        time.sleep(0.5)

    bad = live.http.post(f"/api/videos/{job}/review",
                         json={"decision": "approve", "scenes": [{**scenes[0], "narration": "[pause]"}]})
    assert bad.status_code == 422 and "scene 1: narration" in bad.text

    edited = [{**scenes[0], "narration": "Bees dance to tell the hive where the flowers are."}]
    answer = live.http.post(f"/api/videos/{job}/review",
                            json={"decision": "approve", "title": "Dancing bees", "scenes": edited})
    assert answer.status_code == 202, answer.text
    messages = stream(live, job)
    assert messages[-1].event == "done", messages[-1]
    status = live.http.get(f"/api/videos/{job}/status").json()
    assert status["status"] == "done"
    video = live.http.get(f"/api/videos/{job}/download")
    assert video.status_code == 200 and len(video.content) > 1000
    # the run started again from the top after the answer: the script came from the cache, not a new writer call
    assert _task_states(job, "write_script") == ["Cached", "Completed"]
    assert _task_states(job, "synthesize_narration") == ["Completed"]  # one scene: the edited one
    assert live.http.get(f"/api/videos/{job}/review").status_code == 409


def test_a_rejected_job_ends_cancelled_with_the_reason(live: Live) -> None:
    created = live.http.post("/api/videos/generate", json={**TINY, "review": True, "brief": "Why the sky is blue"})
    job = created.json()["jobId"]
    _waiting(live, job)
    answer = live.http.post(f"/api/videos/{job}/review", json={"decision": "reject", "reason": "wrong audience"})
    assert answer.status_code == 202, answer.text
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        status = live.http.get(f"/api/videos/{job}/status").json()
        if status["status"] not in ("pending", "running"):
            break
        time.sleep(0.5)
    assert status["status"] == "cancelled", status
    assert "wrong audience" in str(status)


def test_a_given_script_is_checked_before_the_job_starts(live: Live) -> None:
    script = {"title": "Bees", "scenes": [{"title": "One", "narration": "", "visual_prompt": "a bee"}]}
    refused = live.http.post("/api/videos/generate", json={**TINY, "script": script})
    assert refused.status_code == 422 and "scene 1: narration" in refused.text
    missing = live.http.get("/api/videos/00000000-0000-0000-0000-000000000000/review")
    assert missing.status_code in (404, 409)


def test_review_needs_the_api_key(tmp_path: Path, job_runner: str) -> None:
    with live_api(tmp_path, job_runner, keys="k1") as keyed:
        answer = httpx.get(f"{keyed.base}/api/videos/00000000-0000-0000-0000-000000000000/review")
        assert answer.status_code == 401
