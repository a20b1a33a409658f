"""The runner `aura serve` starts: a Prefect `Runner` serving `make-video` as the API's own deployment.

Prefect's runner (what `flow.serve()` uses) polls for runs of the deployments it registered, starts
each run in its own process (at most `limit` at once, the rest wait as Scheduled), kills a run's
process when it is cancelled, and reports every state to the Prefect server. The deployment is
registered by this runner when it starts, so the API never sends jobs to a deployment nobody serves:
a stale deployment of the same name in the database is taken over, whatever it pointed at before.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import threading
from typing import Any

__all__ = ["DEFAULT_DEPLOYMENT", "JobRunner"]

log = logging.getLogger("aura.api.runner")

DEFAULT_DEPLOYMENT = "aura-serve"


class JobRunner:
    """A Prefect runner for `make-video` in a background thread with its own event loop."""

    def __init__(self, name: str = DEFAULT_DEPLOYMENT, limit: int = 2, query_seconds: float = 1.0) -> None:
        self.name = name
        self.limit = limit
        self.query_seconds = query_seconds
        self._runner: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False

    @property
    def deployment(self) -> str:
        """The deployment's full name, FLOW/NAME."""
        return f"make-video/{self.name}"

    def start(self, timeout: float = 120) -> str:
        """Register the deployment and start polling for its runs; return the deployment's name."""
        # with the caller's context: Prefect's settings (the API URL among them) may live in a context variable
        context = contextvars.copy_context()
        self._thread = threading.Thread(target=context.run, args=(self._main,), name=f"runner-{self.name}",
                                        daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout) or self._error is not None:
            raise RuntimeError(f"the job runner did not start: {self._error or 'timed out'}")
        log.info("runner serving %s, %d job(s) at a time", self.deployment, self.limit)
        return self.deployment

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # noqa: BLE001 - reported to start() or logged; the thread just ends
            self._error = exc
            self._ready.set()
            log.error("the job runner stopped: %s", exc)

    async def _serve(self) -> None:
        from prefect.deployments.runner import EntrypointType
        from prefect.runner import Runner

        from flows.make_video import make_video

        self._loop = asyncio.get_running_loop()
        first = True
        while not self._stopping:
            try:
                runner = Runner(name=self.name, limit=self.limit, query_seconds=self.query_seconds,
                                pause_on_shutdown=False)
                # a module path, not a file: the run's process imports the flow wherever the package is installed
                await runner.aadd_flow(make_video, name=self.name, entrypoint_type=EntrypointType.MODULE_PATH,
                                       tags=["aura", "aura-serve"])
                if first:
                    await self._crash_leftovers()
                self._runner, first = runner, False
                self._loop.call_later(0.5, self._ready.set)
                await runner.start(webserver=False)
            except Exception as exc:  # noqa: BLE001 - the Prefect server went away: start again once it is back
                if not self._ready.is_set() and first:
                    raise
                log.warning("the job runner stopped (%s); starting it again", exc)
            if not self._stopping:
                await asyncio.sleep(2)

    async def _crash_leftovers(self) -> None:
        """Runs of this deployment still marked running belong to a runner that is gone: say so in Prefect."""
        from prefect import get_client
        from prefect.client.schemas.filters import (
            DeploymentFilter,
            DeploymentFilterName,
            FlowRunFilter,
            FlowRunFilterState,
            FlowRunFilterStateType,
        )
        from prefect.client.schemas.objects import StateType
        from prefect.states import Crashed

        async with get_client() as client:
            runs = await client.read_flow_runs(
                deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=[self.name])),
                flow_run_filter=FlowRunFilter(state=FlowRunFilterState(
                    type=FlowRunFilterStateType(any_=[StateType.RUNNING, StateType.CANCELLING]))))
            for run in runs:
                message = "the runner that ran this job stopped (aura serve ended); start the job again to resume it"
                await client.set_flow_run_state(run.id, Crashed(message=message), force=True)

    def stop(self, timeout: float = 30) -> None:
        """Stop polling and cancel the runs in progress (their processes are killed)."""
        self._stopping = True
        if self._runner is None or self._loop is None or self._thread is None:
            return
        if self._thread.is_alive():
            with contextlib.suppress(RuntimeError, TimeoutError):
                asyncio.run_coroutine_threadsafe(self._runner.astop(), self._loop).result(timeout)
            self._thread.join(timeout)
