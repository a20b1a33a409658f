"""The runner every API test sends its jobs to: Prefect's runner, as `aura serve` starts it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psutil
import pytest


@pytest.fixture(scope="session")
def job_runner(prefect_harness: None) -> Iterator[str]:
    """A runner serving `make-video` for the session's Prefect server; yields its deployment's name."""
    from studio.runner import JobRunner

    runner = JobRunner(name="aura-test", limit=2, query_seconds=0.5)
    deployment = runner.start()
    yield deployment
    runner.stop()


def job_processes(since: float) -> list[psutil.Process]:
    """The processes the runner started for flow runs since `since` (epoch seconds; children of this process).

    The runner runs a flow it was given in a subprocess started by multiprocessing's spawn.
    """
    found = []
    for proc in psutil.Process().children(recursive=True):
        try:
            if "multiprocessing" in " ".join(proc.cmdline()) and proc.create_time() >= since - 1:
                found.append(proc)
        except psutil.Error:
            continue
    return found


def unserved_deployment(name: str, **options: Any) -> str:
    """Register a deployment of `make-video` that no runner serves (as a stale one in the database); its name."""
    from flows.make_video import make_video

    deployment: Any = make_video.to_deployment(name=name, **options)  # the sync variant, outside any event loop
    deployment.apply()
    return f"make-video/{name}"
