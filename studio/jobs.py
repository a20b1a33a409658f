"""Jobs of the REST API: each job is a flow run of a deployment, and Prefect runs it.

A job is created with `run_deployment(deployment, timeout=0)`; a runner or worker polling that
deployment executes it in its own process, kills it on cancel, and reports its state to Prefect.
The job's progress is its `aura.stage.*` Prefect events (tasks/runtime/events.py), ordered by their
place (attempt, seq) and folded by `tasks.runtime.progress.fold`; its end is the flow run's final
state, once the run's last events are in (they reach Prefect after the state, stored in batches):
for a completed run, its composition report; for any other end, Prefect's flush interval and a
margin. So the event log is a pure function of what Prefect stores: a restarted API rebuilds the
same log with the same ids. The API keeps only `job.json` per job (what to delete at retention, and what
to serve without Prefect) and never runs or kills a process itself.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from uuid import UUID, uuid4

from studio.retention import ENDED_MARK
from tasks.runtime.events import read_stage_reports
from tasks.runtime.progress import Progress, RunView, Stage, fold

if TYPE_CHECKING:
    from prefect.client.orchestration import PrefectClient
    from prefect.client.schemas.objects import FlowRun

    from tasks.schemas import Brief, Providers, RenderSpec

__all__ = ["API_TAG", "ENDED_MARK", "Job", "JobError", "JobEvent", "JobManager", "parse_job_id", "public_message"]

log = logging.getLogger("aura.api.jobs")

API_TAG = "aura-api"
_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_TERMINAL = {"COMPLETED", "FAILED", "CANCELLED", "CRASHED"}
_WAITING = {"SCHEDULED", "PENDING", "PAUSED"}
_MESSAGE_LIMIT = 300
Place = tuple[int, int]


def parse_job_id(text: str) -> UUID | None:
    """The job id as a UUID if `text` is exactly one (36 characters, hex and hyphens), else None."""
    if not isinstance(text, str) or not _UUID_RE.fullmatch(text):
        return None
    return UUID(text)


class JobError(Exception):
    """A job request that cannot be served; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def public_message(text: str | None) -> str:
    """A failure message fit for clients: first line only, no traceback, bounded length."""
    if not text:
        return "the job failed"
    line = next((x.strip() for x in str(text).splitlines() if x.strip()), "the job failed")
    if line.startswith("Traceback"):
        return "the job failed; see the flow run's logs in Prefect"
    return line[:_MESSAGE_LIMIT]


@dataclass(frozen=True)
class JobEvent:
    """One server-sent event of a job: `id` counts from 1 and never repeats."""

    id: int
    kind: Literal["progress", "done", "error"]
    data: dict[str, Any]


def progress_data(view: RunView, report: Progress) -> dict[str, Any]:
    """The payload of a progress event: the run as folded after `report`."""
    stage = view.stages[report.stage]
    return {"percentage": view.live_percentage, "stage": str(report.stage), "state": report.state,
            "message": view.message, "current": stage.shown_done, "total": stage.total, "etaSeconds": view.eta,
            "elapsedSeconds": view.elapsed}


@dataclass
class Job:
    """One job as the API sees it: its flow run's state and its event log."""

    job_id: str
    correlation_id: str
    created_at: datetime
    out: str
    topic: str
    folder: Path
    state_type: str = "SCHEDULED"
    state_name: str = "Scheduled"
    state_message: str = ""
    end_time: datetime | None = None
    deployment_id: UUID | None = None
    view: RunView = field(default_factory=RunView)
    events: list[JobEvent] = field(default_factory=list)
    terminal: dict[str, Any] | None = None
    waiting_since: float = field(default_factory=time.monotonic)
    watcher: asyncio.Task[None] | None = None
    _reports: dict[Place, Progress] = field(default_factory=dict)
    _folded: Place = (0, 0)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def id(self) -> UUID:
        """The job id: its flow run's id."""
        return UUID(self.job_id)

    @property
    def status(self) -> str:
        """pending | running | cancelling | done | failed | cancelled."""
        if self.terminal is not None:
            return str(self.terminal["status"])
        return {"SCHEDULED": "pending", "PENDING": "pending", "PAUSED": "pending",
                "CANCELLING": "cancelling"}.get(self.state_type, "running")

    def update_state(self, flow_run: FlowRun) -> None:
        """Take the flow run's current state from Prefect."""
        if flow_run.state is not None:
            self.state_type = flow_run.state.type.value
            self.state_name = flow_run.state.name or self.state_type.title()
            self.state_message = flow_run.state.message or ""
        self.end_time = flow_run.end_time
        self.deployment_id = flow_run.deployment_id

    def add_reports(self, reports: dict[Place, Progress], flush: bool = False) -> None:
        """Fold in the reports that continue the log without a gap (all of them with `flush`)."""
        if self.terminal is not None:
            return
        self._reports.update({p: r for p, r in reports.items() if p > self._folded})
        added = False
        for place in sorted(self._reports):
            attempt, seq = self._folded
            follows = place == (attempt, seq + 1) or (place[0] > attempt and place[1] == 1)
            if not (follows or flush):
                break
            report = self._reports.pop(place)
            self.view = fold(self.view, report)
            self.events.append(JobEvent(len(self.events) + 1, "progress", progress_data(self.view, report)))
            self._folded = place
            added = True
        if added:
            self._wake()

    def has_last_report(self) -> bool:
        """Whether the log holds what a rendered run ends with: composition done, no report held back."""
        return not self._reports and self.view.stages[Stage.COMPOSITION].status in ("done", "degraded")

    def finish(self, status: str, message: str = "", video: str | None = None) -> None:
        """End the log: the terminal event, after every report still held."""
        if self.terminal is not None:
            return
        self.add_reports({}, flush=True)
        if status == "done":
            data: dict[str, Any] = {"percentage": 100.0, "title": self.topic}
            self.terminal = {"status": "done", "video": video}
            self.view = replace(self.view, percentage=100.0)
            self.events.append(JobEvent(len(self.events) + 1, "done", data))
        else:
            self.terminal = {"status": status, "message": public_message(message)}
            data = {"status": status, "message": self.terminal["message"], "percentage": self.view.live_percentage}
            self.events.append(JobEvent(len(self.events) + 1, "error", data))
        self._wake()
        if not self.folder.is_dir():  # a job another API home created: its retention record is not ours
            return
        record = {"status": status, "video": video, "at": time.time()}
        try:
            (self.folder / ENDED_MARK).write_text(json.dumps(record))
        except OSError as exc:  # the log lives in Prefect: a full disk only costs the retention record
            log.warning("job %s: could not record its end: %s", self.job_id, exc)

    def steps(self) -> list[dict[str, Any]]:
        """Each stage's status, items and weight, in pipeline order."""
        from tasks.runtime.progress import STAGE_WEIGHTS

        done = self.terminal is not None and self.terminal["status"] == "done"
        return [
            {"stage": str(name), "status": "done" if done and s.status != "degraded" else s.status,
             "done": s.shown_done, "total": s.total, "weight": STAGE_WEIGHTS[name],
             "percentage": 100.0 if done else round(100 * s.fraction, 1)}
            for name, s in self.view.stages.items()
        ]

    def events_after(self, last_id: int) -> list[JobEvent]:
        """Events with an id above `last_id`."""
        return self.events[last_id:] if last_id >= 0 else list(self.events)

    async def wait_for_change(self, cursor: int, timeout: float) -> bool:
        """Wait until the log holds events after `cursor` or `timeout` passes; True if it does."""
        if len(self.events) > cursor or self.terminal is not None:
            return True
        changed = self._changed
        try:
            await asyncio.wait_for(changed.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def wake(self) -> None:
        """Wake every waiting stream (at shutdown)."""
        self._wake()


def _flush_interval() -> float:
    """How long Prefect's event persister may hold an event before storing it (seconds)."""
    from prefect.settings import get_current_settings

    return float(get_current_settings().server.services.event_persister.flush_interval)


class JobManager:
    """Creates, follows, lists and cancels jobs through one deployment; one per API process."""

    def __init__(
        self,
        home: Path,
        deployment: str,
        *,
        poll_seconds: float = 1.0,
        events_grace_seconds: float | None = None,
        last_event_seconds: float = 120.0,
        pickup_seconds: float | None = 15.0,
        max_queue: int = 20,
        cache_size: int = 256,
        keep_seconds: float = 0.0,
        prune_every_seconds: float = 3600.0,
    ) -> None:
        self.home = home
        self.jobs_dir = home / "api" / "jobs"
        self.videos_dir = home / "api" / "videos"
        self.deployment = deployment
        self.poll_seconds = poll_seconds
        self.events_grace_seconds = _flush_interval() + 2.0 if events_grace_seconds is None else events_grace_seconds
        self.last_event_seconds = last_event_seconds
        self.pickup_seconds = pickup_seconds
        self.max_queue = max_queue
        self.cache_size = cache_size
        self.keep_seconds = keep_seconds
        self.prune_every_seconds = prune_every_seconds
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._client: PrefectClient | None = None
        self._pruner: asyncio.Task[None] | None = None
        self._closing = False

    # -- life cycle

    async def open(self) -> None:
        """Connect to Prefect and follow the jobs a previous API process left unfinished."""
        from prefect import get_client

        self._client = get_client()
        await self._client.__aenter__()
        try:
            await self._recover()
        except Exception as exc:  # noqa: BLE001 - the API still starts; jobs are picked up on demand
            log.warning("could not list unfinished jobs in Prefect: %s", _short(exc))
        if self.keep_seconds > 0:
            self._pruner = asyncio.get_running_loop().create_task(self._prune_forever(), name="retention")

    async def close(self) -> None:
        """Stop following jobs; they keep running in their runner."""
        self._closing = True
        if self._pruner is not None:
            self._pruner.cancel()
        for job in list(self._jobs.values()):
            job.wake()
            if job.watcher is not None:
                job.watcher.cancel()
        if self._client is not None:
            await self._client.__aexit__(None, None, None)
            self._client = None

    @property
    def client(self) -> PrefectClient:
        """The Prefect client (after `open`)."""
        if self._client is None:
            raise JobError(503, "not_ready", "the job service is starting; try again in a moment")
        return self._client

    @property
    def closing(self) -> bool:
        """True once the API is shutting down."""
        return self._closing

    async def prefect_ok(self) -> bool:
        """Whether the Prefect API answers now: one short probe, without the client's retries and backoff."""
        import httpx

        try:
            async with httpx.AsyncClient(timeout=3) as probe:
                return (await probe.get(f"{str(self.client.api_url).rstrip('/')}/health")).status_code == 200
        except httpx.HTTPError:
            return False

    async def _recover(self) -> None:
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterTags
        from prefect.client.schemas.filters import FlowRunFilterStateType as StateTypeFilter
        from prefect.client.schemas.objects import StateType

        unfinished = FlowRunFilter(
            tags=FlowRunFilterTags(all_=[API_TAG]),
            state=FlowRunFilterState(type=StateTypeFilter(any_=[
                StateType.SCHEDULED, StateType.PENDING, StateType.RUNNING, StateType.CANCELLING, StateType.PAUSED])),
        )
        runs = await self.client.read_flow_runs(flow_run_filter=unfinished, limit=200)
        for flow_run in runs:
            job = self._load(flow_run)
            if job is not None:
                self._watch(job)
        if runs:
            log.info("following %d unfinished job(s) from before the restart", len(runs))

    async def _prune_forever(self) -> None:
        """Apply the retention policy now and then every `prune_every_seconds`."""
        from studio.retention import prune_ended_jobs

        while not self._closing:
            try:
                await asyncio.to_thread(prune_ended_jobs, self.home, self.keep_seconds)
            except OSError as exc:  # a full or read-only disk must not stop the API
                log.warning("retention: could not remove old videos: %s", exc)
            await asyncio.sleep(self.prune_every_seconds)

    # -- creating

    async def runner_missing(self, deployment_id: UUID | None = None) -> str | None:
        """Why no runner can take a job of the deployment (the API's, or `deployment_id`) now; None if one polls it."""
        from prefect.exceptions import ObjectNotFound

        if self.pickup_seconds is None:
            return None
        name = self.deployment
        try:
            if deployment_id is None:
                deployment = await self.client.read_deployment_by_name(self.deployment)
            else:
                deployment = await self.client.read_deployment(deployment_id)
                name = f"{deployment.name} ({deployment_id})"
        except ObjectNotFound:
            return f"the deployment {name!r} does not exist on the Prefect server"
        polled = deployment.last_polled
        if polled is None or (datetime.now(UTC) - polled).total_seconds() > self.pickup_seconds:
            return (f"no runner or worker has polled the deployment {name!r} in the last "
                    f"{self.pickup_seconds:g} s (is `aura serve`'s runner, or the deployment's worker, running?)")
        return None

    async def submit(self, brief: Brief, render: RenderSpec, providers: Providers, correlation_id: str,
                     extra: dict[str, Any] | None = None) -> Job:
        """Create the job's flow run of the deployment; a runner picks it up."""
        from prefect.deployments import arun_deployment

        from tasks.naming import job_key_for, slug
        from tasks.runtime.correlation import CORRELATION_TAG

        reason = await self.runner_missing()
        if reason is not None:
            raise JobError(503, "no_runner", f"no job can run now: {reason}")
        if self.max_queue and await self._waiting() >= self.max_queue:
            raise JobError(429, "queue_full", f"{self.max_queue} jobs are already waiting; try again later")
        out = self.videos_dir / f"{slug(brief.topic, 40)}-{uuid4().hex[:12]}.mp4"
        parameters = {"brief": brief.model_dump(mode="json"), "render": render.model_dump(mode="json"),
                      "providers": providers.model_dump(mode="json"), "out": str(out), **(extra or {})}
        try:
            self.videos_dir.mkdir(parents=True, exist_ok=True)
            self.jobs_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise JobError(507, "storage", "the job could not be stored: the API's disk is full or read-only") from exc
        # the correlation-id tag puts the request's id into every log line of the run
        flow_run = await arun_deployment(self.deployment, client=self.client, parameters=parameters, timeout=0,
                                         tags=[API_TAG, f"{CORRELATION_TAG}{correlation_id}"], as_subflow=False)
        folder = self.jobs_dir / str(flow_run.id)
        meta = {"job_id": str(flow_run.id), "out": str(out), "key": job_key_for(brief, render, providers),
                "topic": brief.topic, "correlation_id": correlation_id}
        try:
            folder.mkdir()
            (folder / "job.json").write_text(json.dumps(meta, indent=1))
        except OSError as exc:
            from prefect.states import Cancelled

            await self.client.set_flow_run_state(flow_run.id, Cancelled(message="the API could not store the job"),
                                                 force=True)
            raise JobError(507, "storage", "the job could not be stored: the API's disk is full or read-only") from exc
        job = self._load(flow_run)
        assert job is not None
        self._watch(job)
        log.info("job %s created for %r, correlation %s", job.job_id, brief.topic, correlation_id)
        return job

    async def _waiting(self) -> int:
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterTags
        from prefect.client.schemas.filters import FlowRunFilterStateType as StateTypeFilter
        from prefect.client.schemas.objects import StateType

        waiting = FlowRunFilter(tags=FlowRunFilterTags(all_=[API_TAG]), state=FlowRunFilterState(
            type=StateTypeFilter(any_=[StateType.SCHEDULED, StateType.PENDING])))
        return await self.client.count_flow_runs(flow_run_filter=waiting)

    # -- finding

    def _load(self, flow_run: FlowRun) -> Job | None:
        """The job of an API flow run (kept in memory, the least recently used ended ones forgotten)."""
        key = str(flow_run.id)
        job = self._jobs.get(key)
        if job is None:
            if flow_run.tags is None or API_TAG not in flow_run.tags:
                return None
            params = flow_run.parameters or {}
            brief = params.get("brief") if isinstance(params.get("brief"), dict) else {}
            tag = next((t for t in flow_run.tags if t.startswith("correlation-id:")), "")
            job = Job(key, tag.partition(":")[2], flow_run.created or datetime.now(UTC), str(params.get("out", "")),
                      str((brief or {}).get("topic", "")), self.jobs_dir / key)
            self._jobs[key] = job
            excess = len(self._jobs) - self.cache_size
            idle = [k for k, j in self._jobs.items() if j.terminal is not None and k != key]
            for old in idle[:max(0, excess)]:
                del self._jobs[old]
        self._jobs.move_to_end(key)
        job.update_state(flow_run)
        return job

    async def get(self, job_id: UUID) -> Job:
        """The job with this id, fresh from Prefect; JobError 404 if there is none."""
        from prefect.exceptions import ObjectNotFound

        try:
            flow_run = await self.client.read_flow_run(job_id)
        except ObjectNotFound:
            raise JobError(404, "not_found", f"no job with id {job_id}") from None
        job = self._load(flow_run)
        if job is None:
            raise JobError(404, "not_found", f"no job with id {job_id}")
        if job.terminal is None and not job.events:
            await self._check(job)  # a job seen for the first time: its log as far as Prefect has it
        self._watch(job)
        return job

    def ended_offline(self, job_id: UUID) -> dict[str, Any] | None:
        """What the job's folder says of its end (for serving finished videos while Prefect is away)."""
        try:
            record = json.loads((self.jobs_dir / str(job_id) / ENDED_MARK).read_text())
            meta = json.loads((self.jobs_dir / str(job_id) / "job.json").read_text())
        except (OSError, ValueError):
            return None
        return {**meta, **record} if isinstance(record, dict) and isinstance(meta, dict) else None

    async def recent(self, limit: int) -> list[Job]:
        """The most recent jobs, newest first."""
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags
        from prefect.client.schemas.sorting import FlowRunSort

        runs = await self.client.read_flow_runs(
            flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=[API_TAG])),
            sort=FlowRunSort.EXPECTED_START_TIME_DESC, limit=limit)
        jobs = [job for job in (self._load(run) for run in runs) if job is not None]
        for job in jobs:
            if job.terminal is None and not job.events:  # not seen since this API started: its log so far
                await self._check(job)
            self._watch(job)
        return sorted(jobs, key=lambda j: j.created_at, reverse=True)

    # -- following

    def _watch(self, job: Job) -> None:
        if self._closing or job.terminal is not None:
            return
        if job.watcher is None or job.watcher.done():
            job.watcher = asyncio.get_running_loop().create_task(self._follow(job), name=f"job-{job.job_id}")

    async def _follow(self, job: Job) -> None:
        while job.terminal is None and not self._closing:
            try:
                await self._check(job)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a Prefect hiccup must not end the job's log
                log.warning("job %s: could not check its flow run: %s", job.job_id, _short(exc))
            if job.terminal is None:
                await asyncio.sleep(self.poll_seconds)

    async def _check(self, job: Job) -> None:
        """Read the run's state and new events; end the log once the run has ended and its events are in."""
        flow_run = await self.client.read_flow_run(job.id)
        job.update_state(flow_run)
        job.add_reports(await self._reports(job))
        if job.state_type in _TERMINAL:
            # The run's last events reach Prefect after its end (its process sends them as it exits) and are
            # stored in batches. A completed run says when they are all in: its composition report. Other
            # ends have no such mark: their logs close after Prefect's flush interval and a margin.
            ended = flow_run.end_time or datetime.now(UTC)
            waited = (datetime.now(UTC) - ended).total_seconds()
            if job.state_type == "COMPLETED":
                last_in = job.has_last_report()
                complete = last_in or waited >= self.last_event_seconds
                if complete and not last_in:
                    log.warning("job %s: its last progress events never reached Prefect; ending its log without "
                                "them", job.job_id)
            else:
                complete = waited >= self.events_grace_seconds
            if complete:
                job.add_reports(await self._reports(job))
                self._finish_from_state(job)
            return
        if job.state_type not in _WAITING | {"CANCELLING"}:
            job.waiting_since = time.monotonic()
        elif time.monotonic() - job.waiting_since > (self.pickup_seconds or float("inf")):
            reason = await self.runner_missing(job.deployment_id)
            if reason is not None:
                await self._fail_unrunnable(job, reason)

    async def _fail_unrunnable(self, job: Job, reason: str) -> None:
        """A job no runner can take (or stop) ends now, saying why, instead of waiting for good."""
        from prefect.states import Cancelled, Failed

        if job.state_type == "CANCELLING":
            state: Any = Cancelled(message="cancelled (no runner was running it)")
        else:
            state = Failed(message=f"no runner took the job: {reason}")
        await self.client.set_flow_run_state(job.id, state, force=True)
        log.warning("job %s: %s", job.job_id, state.message)

    def _finish_from_state(self, job: Job) -> None:
        if job.state_type == "COMPLETED":
            out = Path(job.out) if job.out else None
            job.finish("done", video=str(out) if out is not None and out.is_file() else None)
        else:
            # a crash is a failure to the API's clients (its statuses have no other word); the message says which
            status = "cancelled" if job.state_type == "CANCELLED" else "failed"
            message = job.state_message or f"the job's flow run ended {job.state_name}"
            if job.state_type == "CRASHED":
                message = f"the job's process crashed: {message}"
            job.finish(status, message)

    async def _reports(self, job: Job) -> dict[Place, Progress]:
        """The run's `aura.stage.*` reports stored in Prefect so far, by place."""
        return await read_stage_reports(self.client, job.id, since=job.created_at - timedelta(minutes=5))

    # -- cancelling

    async def cancel(self, job: Job, reason: str = "cancelled by request") -> Job:
        """Cancel the job's flow run: at once if no runner has it yet, else its runner stops it."""
        from prefect.states import Cancelled, Cancelling

        if job.terminal is not None or job.state_type in _TERMINAL:
            raise JobError(409, "already_finished", f"the job has already ended ({job.status})")
        if job.state_type in ("SCHEDULED", "PAUSED"):  # no runner has it yet: nothing to stop, no event to wait for
            await self.client.set_flow_run_state(job.id, Cancelled(message=reason), force=True)
            job.update_state(await self.client.read_flow_run(job.id))
            if job.state_type == "CANCELLED":
                job.finish("cancelled", reason)
            return job
        if job.state_type != "CANCELLING":
            await self.client.set_flow_run_state(job.id, Cancelling(message=reason))
        job.update_state(await self.client.read_flow_run(job.id))
        job.waiting_since = time.monotonic()
        return job


def _short(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
