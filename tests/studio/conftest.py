"""The runner every API test sends its jobs to: Prefect's runner, as `aura serve` starts it."""

from __future__ import annotations

from collections.abc import Iterator

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


def flow_run_processes(flow_run_id: str) -> list[psutil.Process]:
    """The processes the runner started for one flow run (children of this test process)."""
    found = []
    for proc in psutil.Process().children(recursive=True):
        try:
            if proc.environ().get("PREFECT__FLOW_RUN_ID") == flow_run_id:
                found.append(proc)
        except psutil.Error:
            continue
    return found
