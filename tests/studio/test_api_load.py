"""A light run of benchmarks/api_load.py: concurrent jobs and many SSE clients against `aura serve`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]


def test_concurrent_jobs_and_many_streams_lose_nothing_and_memory_stays_flat() -> None:
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}  # the session's Prefect server
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "api_load.py"), "--jobs", "3", "--clients", "30",
         "--rounds", "2", "--max-growth-mb", "25", "--json"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=840,
    )
    assert done.stdout.strip(), done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    print(json.dumps(figures, indent=1))
    for result in figures["rounds"]:
        assert result["problems"] == []
        assert result["jobs_done"] == 3 and result["videos"] == 3
        assert result["events_delivered"] == result["events_expected"]  # every client got its job's whole log
        assert result["reconnects"] > 0  # some clients dropped and resumed with Last-Event-ID
    assert figures["lost_or_bad_events"] == 0
    assert figures["processes_left"] == []  # aura serve's Prefect runner and its jobs stopped with it
    assert figures["rss_growth_mb"] <= 25
    assert figures["ok"], figures
    assert done.returncode == 0
