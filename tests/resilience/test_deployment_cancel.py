"""Cancelling a deployment's flow run (`prefect flow-run cancel`, what the UI's Cancel does) on a real
`prefect server` with a process worker: the run stops within seconds, ends Cancelled, leaves no ffmpeg
and no video at the output path, and a new run of the same parameters resumes from the cache."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.deployments.prefect_stack import PrefectStack
from tests.resilience.conftest import partials, processes_mentioning, topic

pytestmark = pytest.mark.e2e


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[PrefectStack]:
    """A server, the aura-cpu process pool, the `smoke` deployment and one worker; all stopped afterwards."""
    stack = PrefectStack(tmp_path / "stack")
    try:
        stack.start_server()
        created = stack.cli("work-pool", "create", "aura-cpu", "--type", "process")
        assert created.returncode == 0, created.stdout + created.stderr
        deployed = stack.cli("--no-prompt", "deploy", "-n", "smoke")
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        stack.start_worker("aura-cpu")
        yield stack
    finally:
        stack.stop()  # fails the test if any process of the stack is left


def _ffmpeg_mentioning(text: str) -> list[psutil.Process]:
    return [p for p in processes_mentioning(text) if "ffmpeg" in (p.info["name"] or "")]


def _state(stack: PrefectStack, flow_run_id: str) -> str:
    return str(stack.get(f"/flow_runs/{flow_run_id}")["state"]["type"])


def _start(stack: PrefectStack, params: dict[str, Any]) -> str:
    [deployment] = stack.post("/deployments/filter", {"deployments": {"name": {"any_": ["smoke"]}}})
    return str(stack.post(f"/deployments/{deployment['id']}/create_flow_run", {"parameters": params})["id"])


def _ended(process: psutil.Process) -> bool:
    """The process is gone or a zombie (it can end between two questions)."""
    try:
        return not process.is_running() or process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_cancelling_a_deployment_run_stops_ffmpeg_and_the_run_resumes_later(stack: PrefectStack) -> None:
    out = stack.root / "videos" / "bees.mp4"
    params = {"brief": {"topic": topic("deployment-cancel"), "duration": 20, "density": "sparse"},
              "out": str(out)}
    flow_run_id = _start(stack, params)
    root = str(stack.aura_home)

    deadline = time.monotonic() + 300
    while not (segments := [p for p in _ffmpeg_mentioning(root) if "/segments/" in " ".join(p.info["cmdline"])]):
        assert _state(stack, flow_run_id) in ("SCHEDULED", "PENDING", "RUNNING"), stack.log("worker-aura-cpu.log")
        assert time.monotonic() < deadline, "composition never started"
        time.sleep(0.01)
    # freeze the renders: the cancel must stop a render that would otherwise go on for a long time
    # (tiny test media renders in about a second, and would simply finish)
    for proc in _ffmpeg_mentioning(root):
        with contextlib.suppress(psutil.Error):  # one may have just finished
            proc.suspend()
    engine = psutil.Process(segments[0].info["ppid"])  # the flow run's process, started by the worker
    cancelled = stack.cli("flow-run", "cancel", flow_run_id)
    sent = time.monotonic()
    assert cancelled.returncode == 0, cancelled.stdout + cancelled.stderr

    ffmpeg_gone = engine_gone = state_seconds = None
    while time.monotonic() - sent < 120 and None in (ffmpeg_gone, engine_gone, state_seconds):
        now = time.monotonic() - sent
        # the flow run's process first: an ffmpeg gone by the time it is seen gone gets the same `now`, so
        # the order of the two ends is known without a tolerance, however slow each round is under load
        if engine_gone is None and _ended(engine):
            engine_gone = now
        if ffmpeg_gone is None and not _ffmpeg_mentioning(root):
            ffmpeg_gone = now
        if state_seconds is None and _state(stack, flow_run_id) == "CANCELLED":
            state_seconds = now
        time.sleep(0.05)
    print(f"\ndeployment cancel: flow-run process gone after {engine_gone} s, ffmpeg after {ffmpeg_gone} s, "
          f"state Cancelled after {state_seconds} s")
    assert engine_gone is not None and ffmpeg_gone is not None and state_seconds is not None
    assert ffmpeg_gone <= engine_gone  # no ffmpeg outlives the flow run's process: no orphans
    assert not out.exists()

    # a new run with the same parameters resumes: what finished before the cancel is cached
    again = _start(stack, params)
    deadline = time.monotonic() + 300
    while _state(stack, again) not in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
        assert time.monotonic() < deadline, stack.log("worker-aura-cpu.log")
        time.sleep(1)
    assert _state(stack, again) == "COMPLETED", stack.log("worker-aura-cpu.log")
    states: dict[str, set[str]] = {}
    for run in stack.task_runs(again):
        states.setdefault(run["task_key"].rsplit("-", 1)[0], set()).add(run["state"]["name"])
    assert states["write_script"] == {"Cached"} and states["synthesize_narration"] == {"Cached"}
    assert "Completed" in states["render_segment"]  # the frozen segments were rendered again
    assert out.exists() and partials(out.parent, stack.aura_home / "runs") == []

    # the flow kills its ffmpeg as soon as the worker's SIGTERM arrives (tasks.runtime.cancellation); without
    # that, the frozen ffmpeg would go only with the worker's SIGKILL after Prefect's 30 s grace period, which
    # starts after the cancel was sent: under 30 s tells the two apart at any load
    assert ffmpeg_gone < 30, f"a cancelled deployment run stopped its ffmpeg only after {ffmpeg_gone:.0f} s"
