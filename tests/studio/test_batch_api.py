"""POST /api/batches: one job per video through the generate front door; a bad one is named, the others run."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.studio.test_api import TINY, Live, live_api

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, job_runner: str) -> Iterator[Live]:
    with live_api(tmp_path_factory.mktemp("batch-home"), job_runner) as running:
        yield running


def test_a_batch_starts_a_job_per_good_video_and_names_the_bad_one(live: Live) -> None:
    videos = [{**TINY, "brief": "How tides work"}, {**TINY, "durationSeconds": 3},
              {**TINY, "brief": "How magnets work"}]
    created = live.http.post("/api/batches", json={"videos": videos})
    assert created.status_code == 202, created.text
    body = created.json()
    assert body["started"] == 2
    bad = body["videos"][1]
    assert bad["jobId"] is None and bad["error"].startswith("videos[2]: durationSeconds")
    jobs = [v["jobId"] for v in body["videos"] if v["jobId"]]
    assert len(set(jobs)) == 2  # one flow run per brief
    deadline = time.monotonic() + 300
    states: list[str] = []
    while time.monotonic() < deadline:
        states = [live.http.get(f"/api/videos/{job}/status").json()["status"] for job in jobs]
        if all(s not in ("pending", "running") for s in states):
            break
        time.sleep(1)
    assert states == ["done", "done"]


def test_a_batch_of_only_bad_videos_is_refused(live: Live) -> None:
    refused = live.http.post("/api/batches", json={"videos": [{"brief": ""}]})
    assert refused.status_code == 422 and refused.json()["started"] == 0
    assert live.http.post("/api/batches", json={"videos": []}).status_code == 422
