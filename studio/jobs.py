"""Jobs for the REST API: each job is a `make-video` flow run, with its progress as an event log.

A job's state lives in Prefect (the flow run) and in a folder `AURA_HOME/api/jobs/<flow run id>/`
holding `job.json` (who asked for what), `progress.jsonl` (one record per progress report, then one
terminal record) and, for local runs, `child.pid` and `child.log`. The API's event stream is a pure
function of `progress.jsonl`, so event ids stay the same across an API restart.

Runs start in one of two ways:

- `deployment`: `run_deployment(AURA_API_DEPLOYMENT, timeout=0)` when that deployment exists on the
  configured Prefect server (and, with runner `auto`, a worker is polling for it). Progress comes
  from the `aura.stage.*` Prefect events of the run; without them, from the run's state.
- `local`: the API creates the flow run, then one child process per job (`python -m studio.jobs`)
  executes exactly that flow run and appends its progress reports to `progress.jsonl`. A process
  (not a thread) per job, because a job can then be killed for real on cancel (with its ffmpeg
  children), a crash or memory blow-up in a render cannot take the API down, the API's event loop
  is not starved by CPU-bound work, reports need no per-job routing (one job per process), and a
  running job outlives an API restart. The price is about two seconds of start-up per job.

The API never runs a stage itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol
from uuid import UUID, uuid4

from tasks.runtime.progress import STAGE_WEIGHTS

if TYPE_CHECKING:
    from prefect.client.orchestration import PrefectClient
    from prefect.client.schemas.objects import FlowRun

    from tasks.schemas import Brief, Providers, RenderSpec

__all__ = [
    "API_TAG",
    "Job",
    "JobError",
    "JobEvent",
    "JobManager",
    "JobMeta",
    "Launcher",
    "LocalLauncher",
    "DeploymentLauncher",
    "ProgressTracker",
    "parse_job_id",
]

log = logging.getLogger("aura.api.jobs")

API_TAG = "aura-api"
_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_TERMINAL_TYPES = {"COMPLETED", "FAILED", "CANCELLED", "CRASHED"}
_MESSAGE_LIMIT = 300


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


# ---------------------------------------------------------------------------------------------
# progress: records in, events out (pure)


@dataclass(frozen=True)
class JobEvent:
    """One server-sent event of a job: `id` counts from 1 and never repeats."""

    id: int
    kind: Literal["progress", "done", "error"]
    data: dict[str, Any]


@dataclass
class _Stage:
    status: str = "waiting"  # waiting | running | done | degraded | failed
    done: int = 0
    total: int = 0

    @property
    def fraction(self) -> float:
        if self.status in ("done", "degraded"):
            return 1.0
        return min(1.0, self.done / self.total) if self.total > 0 else 0.0


class ProgressTracker:
    """Folds progress records into the job's state and turns each one into an event.

    Records are dicts: `{"t": "progress", "stage", "done", "total", "message", "state", "at"}`
    (the fields of `tasks.runtime.progress.Progress`) or `{"t": "state", "state", "name"}` (a flow run state
    change seen in Prefect), then one `{"t": "done", "video", ...}` or `{"t": "error", "status",
    "message"}`. Nothing is accepted after the terminal record. The percentage is weighted by
    STAGE_WEIGHTS, never goes down, and stays below 100 until the video is done.
    """

    def __init__(self) -> None:
        self.stages: dict[str, _Stage] = {name: _Stage() for name in STAGE_WEIGHTS}
        self.percentage = 0.0
        self.count = 0
        self.first_at: float | None = None
        self.last_at: float | None = None
        self.current_stage: str | None = None
        self.message = ""
        self.eta: float | None = None
        self.terminal: dict[str, Any] | None = None
        self.flow_state = ""

    def _overall(self) -> float:
        share = sum(STAGE_WEIGHTS[name] * stage.fraction for name, stage in self.stages.items())
        return round(min(100.0, share), 1)

    def apply(self, record: dict[str, Any]) -> JobEvent | None:
        """Fold one record in; return its event, or None for a record that is not one."""
        if self.terminal is not None or not isinstance(record, dict):
            return None
        kind = record.get("t")
        at = record.get("at")
        if isinstance(at, int | float):
            self.first_at = at if self.first_at is None else self.first_at
            self.last_at = at
        if kind == "progress":
            return self._progress(record)
        if kind == "state":  # a flow run state change, for runs whose progress reports may not reach us
            self.count += 1
            self.flow_state = str(record.get("state", ""))
            self.message = f"flow run {record.get('name') or self.flow_state.title()}"[:_MESSAGE_LIMIT]
            data = {"percentage": self.percentage, "stage": self.current_stage, "state": self.flow_state.lower(),
                    "message": self.message, "current": 0, "total": 0, "etaSeconds": self.eta,
                    "elapsedSeconds": 0.0}
            return JobEvent(self.count, "progress", data)
        if kind == "done":
            self.count += 1
            self.terminal = record
            self.percentage = 100.0
            self.eta = 0.0
            for stage in self.stages.values():
                if stage.status != "degraded":
                    stage.status = "done"
            data = {"percentage": 100.0, "title": record.get("title"), "durationSeconds": record.get("duration")}
            return JobEvent(self.count, "done", data)
        if kind == "error":
            self.count += 1
            status = record.get("status") if record.get("status") in ("failed", "cancelled", "crashed") else "failed"
            self.terminal = {**record, "status": status}
            self.message = public_message(record.get("message"))
            self.eta = None
            if self.current_stage and self.stages[self.current_stage].status == "running":
                self.stages[self.current_stage].status = "failed" if status != "cancelled" else "waiting"
            data = {"status": status, "message": self.message, "percentage": self.percentage}
            return JobEvent(self.count, "error", data)
        return None

    def _progress(self, record: dict[str, Any]) -> JobEvent | None:
        name = record.get("stage")
        if name not in self.stages:
            return None
        stage = self.stages[name]
        state = str(record.get("state", "running"))
        done = _int(record.get("done"))
        total = _int(record.get("total"))
        if state == "started":
            stage.status = "running"
        elif state == "item":
            stage.total = max(stage.total, total)
            stage.done = min(stage.done + 1, stage.total) if stage.total else stage.done + 1
            stage.status = "running" if stage.status == "waiting" else stage.status
        elif state in ("finished", "degraded"):
            stage.total = max(stage.total, total, stage.done, done)
            stage.done = max(stage.done, done)
            stage.status = "done" if state == "finished" else "degraded"
        elif state == "failed":
            stage.status = "failed"
        else:  # running: a note, maybe with counts
            stage.total = max(stage.total, total)
            stage.done = max(stage.done, min(done, stage.total or done))
            stage.status = "running" if stage.status == "waiting" else stage.status
        self.count += 1
        self.current_stage = name
        self.message = str(record.get("message", ""))[:_MESSAGE_LIMIT]
        # 100 % is kept for the end: the last stage's items are done before the file is muxed
        self.percentage = max(self.percentage, min(99.0, self._overall()))
        elapsed = (self.last_at - self.first_at) if self.first_at is not None and self.last_at is not None else 0.0
        if self.percentage >= 100:
            self.eta = 0.0
        elif self.percentage >= 1 and elapsed > 0:
            self.eta = round(elapsed * (100 - self.percentage) / self.percentage, 1)
        else:
            self.eta = None
        data = {
            "percentage": self.percentage, "stage": name, "state": state, "message": self.message,
            "current": stage.done if stage.status not in ("done", "degraded") else max(stage.done, stage.total),
            "total": stage.total, "etaSeconds": self.eta, "elapsedSeconds": round(elapsed, 1),
        }
        return JobEvent(self.count, "progress", data)

    def steps(self) -> list[dict[str, Any]]:
        """Each stage's status, items and weight, in pipeline order."""
        return [
            {"stage": name, "status": s.status, "done": s.done, "total": s.total, "weight": STAGE_WEIGHTS[name],
             "percentage": round(100 * s.fraction, 1)}
            for name, s in self.stages.items()
        ]


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


class RecordFile:
    """An append-only JSON-lines file, read incrementally (only complete lines)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self._partial = b""

    def read_new(self) -> list[dict[str, Any]]:
        """Records appended since the last call."""
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self.offset)
                chunk = handle.read(1 << 20)
        except FileNotFoundError:
            return []
        self.offset += len(chunk)
        lines = (self._partial + chunk).split(b"\n")
        self._partial = lines.pop()
        records = []
        for line in lines:
            with contextlib.suppress(ValueError):
                records.append(json.loads(line))
        return records

    def append(self, record: dict[str, Any]) -> None:
        """Append one record (one write call, so that concurrent writers never interleave a line)."""
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, default=str) + "\n")


# ---------------------------------------------------------------------------------------------
# jobs


@dataclass(frozen=True)
class JobMeta:
    """What the API knows about a job beyond its flow run."""

    job_id: str
    correlation_id: str
    created_at: str
    mode: str  # local | deployment | observe (a run whose folder is not on this host)
    out: str
    topic: str
    key: str = ""


@dataclass
class Job:
    """One job as the API sees it: its metadata, its flow run's state, its event log."""

    meta: JobMeta
    folder: Path | None
    tracker: ProgressTracker = field(default_factory=ProgressTracker)
    events: list[JobEvent] = field(default_factory=list)
    state_type: str = "PENDING"
    state_name: str = "Pending"
    state_message: str = ""
    end_time: datetime | None = None
    terminal_seen: float | None = None
    seen_event_ids: set[str] = field(default_factory=set)
    watcher: asyncio.Task[None] | None = None
    _records: RecordFile | None = None
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def __post_init__(self) -> None:
        if self.folder is not None:
            self._records = RecordFile(self.folder / "progress.jsonl")

    @property
    def id(self) -> UUID:
        """The job id: its flow run's id."""
        return UUID(self.meta.job_id)

    @property
    def terminal(self) -> dict[str, Any] | None:
        """The terminal record once the job has ended."""
        return self.tracker.terminal

    @property
    def status(self) -> str:
        """pending | running | cancelling | done | failed | cancelled."""
        if self.terminal is not None:
            return "done" if self.terminal["t"] == "done" else (
                "cancelled" if self.terminal.get("status") == "cancelled" else "failed")
        return {"SCHEDULED": "pending", "PENDING": "pending", "PAUSED": "pending", "RUNNING": "running",
                "CANCELLING": "cancelling"}.get(self.state_type, "running")

    def ingest(self, records: Iterable[dict[str, Any]]) -> bool:
        """Fold records into the log; wake the streams if anything was added."""
        added = False
        for record in records:
            event = self.tracker.apply(record)
            if event is not None:
                self.events.append(event)
                added = True
        if added:
            self._changed.set()
            self._changed = asyncio.Event()
        return added

    def read_records(self) -> bool:
        """Ingest what was appended to `progress.jsonl` since the last read."""
        return self.ingest(self._records.read_new()) if self._records is not None else False

    def append(self, record: dict[str, Any]) -> None:
        """Record something this process observed (persisted when the job has a folder)."""
        record = {"at": time.time(), **record}
        if self._records is not None:
            self.read_records()
            if self.terminal is not None:
                return
            self._records.append(record)
            self.read_records()
        else:
            self.ingest([record])

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

    def wake(self) -> None:
        """Wake every waiting stream (at shutdown)."""
        self._changed.set()
        self._changed = asyncio.Event()

    def update_state(self, flow_run: FlowRun) -> None:
        """Take the flow run's current state from Prefect."""
        state = flow_run.state
        if state is not None:
            self.state_type = state.type.value
            self.state_name = state.name or state.type.value.title()
            self.state_message = state.message or ""
        self.end_time = flow_run.end_time


# ---------------------------------------------------------------------------------------------
# launchers


class Launcher(Protocol):
    """Starts flow runs for jobs of one mode."""

    mode: str

    async def create(self, client: PrefectClient, parameters: dict[str, Any], tags: list[str]) -> FlowRun:
        """Create the job's flow run."""
        ...

    def enqueue(self, job: Job) -> None:
        """Arrange for the flow run to execute."""
        ...

    def alive(self, job: Job) -> bool | None:
        """True while the job's process runs, False once it ended, None if not started or not ours."""
        ...

    async def stop(self, job: Job) -> bool:
        """Stop the job's execution; True if it had not started or was killed."""
        ...

    def queued(self) -> int:
        """Jobs waiting for a free slot."""
        ...


def _child_env(api_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PREFECT_API_URL"] = api_url
    env.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    env.setdefault("DO_NOT_TRACK", "1")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _kill_tree(pid: int, grace: float) -> None:
    """SIGTERM `pid`, then SIGKILL it and every descendant still alive after `grace` seconds."""
    import psutil

    try:
        root = psutil.Process(pid)
        family = [root, *root.children(recursive=True)]
    except psutil.Error:
        return
    with contextlib.suppress(psutil.Error):
        root.send_signal(signal.SIGTERM)
    _, alive = psutil.wait_procs([root], timeout=grace)
    with contextlib.suppress(psutil.Error):
        family += root.children(recursive=True)
    for proc in family:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(family, timeout=5)


def _pid_alive(folder: Path, job_id: str) -> bool | None:
    """From `child.pid`: True if that process still runs this job, False if gone, None if never started."""
    import psutil

    try:
        pid_text, _, started = (folder / "child.pid").read_text().partition(" ")
        proc = psutil.Process(int(pid_text))
        if abs(proc.create_time() - float(started)) > 1.0 or job_id not in " ".join(proc.cmdline()):
            return False
        return proc.status() != psutil.STATUS_ZOMBIE
    except FileNotFoundError:
        return None
    except (ValueError, psutil.Error):
        return False


class LocalLauncher:
    """One child process per job, at most `max_jobs` at a time; identical jobs run one after another."""

    mode = "local"

    def __init__(self, max_jobs: int = 2, python: str = sys.executable, kill_grace: float = 3.0) -> None:
        self.max_jobs = max_jobs
        self.python = python
        self.kill_grace = kill_grace
        self.api_url = ""
        self._queue: deque[Job] = deque()
        self._running: dict[str, tuple[Job, subprocess.Popen[bytes]]] = {}

    async def create(self, client: PrefectClient, parameters: dict[str, Any], tags: list[str]) -> FlowRun:
        """Create a Pending flow run of `make-video`; a child process executes it later."""
        from flows.make_video import make_video

        self.api_url = str(client.api_url)
        return await client.create_flow_run(make_video, parameters=parameters, tags=tags)

    def enqueue(self, job: Job) -> None:
        """Queue the job; it starts as soon as a slot is free."""
        self._queue.append(job)
        self._dispatch()

    def queued(self) -> int:
        """Jobs waiting for a free slot."""
        return len(self._queue)

    def _dispatch(self) -> None:
        for job_id, (_job, proc) in list(self._running.items()):
            if proc.poll() is not None:
                del self._running[job_id]
        busy_keys = {job.meta.key for job, _ in self._running.values()}
        for job in list(self._queue):
            if len(self._running) >= self.max_jobs:
                break
            if job.meta.key and job.meta.key in busy_keys:
                continue
            self._queue.remove(job)
            try:
                self._running[job.meta.job_id] = (job, self._spawn(job))
            except OSError as exc:
                log.error("job %s: could not start its process: %s", job.meta.job_id, exc)
                job.append({"t": "error", "status": "crashed", "message": "the job's process could not be started"})
                continue
            busy_keys.add(job.meta.key)

    def _spawn(self, job: Job) -> subprocess.Popen[bytes]:
        assert job.folder is not None
        log_file = open(job.folder / "child.log", "ab")  # noqa: SIM115 - handed to the child
        try:
            proc = subprocess.Popen(
                [self.python, "-m", "studio.jobs", job.meta.job_id, str(job.folder)],
                stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
                env=_child_env(self.api_url), start_new_session=True,
            )
        finally:
            log_file.close()
        import psutil

        created = psutil.Process(proc.pid).create_time()
        (job.folder / "child.pid").write_text(f"{proc.pid} {created}")
        log.info("job %s started in process %d", job.meta.job_id, proc.pid)
        return proc

    def tick(self) -> None:
        """Reap ended children and start queued jobs in the slots they freed."""
        self._dispatch()

    def alive(self, job: Job) -> bool | None:
        """Whether the job's child process runs (None while it waits in the queue)."""
        self._dispatch()
        entry = self._running.get(job.meta.job_id)
        if entry is not None:
            return entry[1].poll() is None
        if any(j.meta.job_id == job.meta.job_id for j in self._queue):
            return None
        return _pid_alive(job.folder, job.meta.job_id) if job.folder is not None else None

    async def stop(self, job: Job) -> bool:
        """Take the job off the queue, or kill its process tree."""
        for queued in list(self._queue):
            if queued.meta.job_id == job.meta.job_id:
                self._queue.remove(queued)
                return True
        entry = self._running.get(job.meta.job_id)
        pid: int | None = entry[1].pid if entry else None
        if pid is None and job.folder is not None and _pid_alive(job.folder, job.meta.job_id):
            pid = int((job.folder / "child.pid").read_text().split()[0])
        if pid is not None:
            await asyncio.to_thread(_kill_tree, pid, self.kill_grace)
            if entry:
                entry[1].wait()
        self._dispatch()
        return True

    def adopt(self, job: Job, start: bool) -> None:
        """After an API restart: queue a job that never started (`start`), or just follow it."""
        if start:
            self.enqueue(job)

    def kill_all(self) -> None:
        """Kill every child this launcher started (used by tests and at a forced shutdown)."""
        self._queue.clear()
        for _job, proc in list(self._running.values()):
            if proc.poll() is None:
                _kill_tree(proc.pid, 1.0)
                proc.wait()
        self._running.clear()


class DeploymentLauncher:
    """Runs through a Prefect deployment; a worker executes the run, Prefect events carry the progress."""

    mode = "deployment"

    def __init__(self, name: str) -> None:
        self.name = name

    async def create(self, client: PrefectClient, parameters: dict[str, Any], tags: list[str]) -> FlowRun:
        """Create a flow run of the deployment and return at once (timeout=0)."""
        from prefect.deployments import arun_deployment

        return await arun_deployment(
            self.name, client=client, parameters=parameters, timeout=0, tags=tags, as_subflow=False
        )

    def enqueue(self, job: Job) -> None:
        """Nothing to do: the deployment's worker picks the run up."""

    def alive(self, job: Job) -> bool | None:
        """Not known here: the worker owns the process."""
        return None

    async def stop(self, job: Job) -> bool:
        """Nothing to kill here: the worker acts on the Cancelling state."""
        return False

    def queued(self) -> int:
        """The worker's queue is not counted here."""
        return 0


# ---------------------------------------------------------------------------------------------
# the manager


class JobManager:
    """Creates, follows, lists and cancels jobs; one per API process, used from its event loop."""

    def __init__(
        self,
        home: Path,
        *,
        runner: str = "auto",
        deployment: str = "make-video/on-demand",
        max_jobs: int = 2,
        max_queue: int = 20,
        poll_seconds: float = 0.2,
        state_poll_seconds: float = 1.0,
        cache_size: int = 256,
        events_grace_seconds: float = 6.0,
        keep_seconds: float = 0.0,
        prune_every_seconds: float = 3600.0,
        local: LocalLauncher | None = None,
    ) -> None:
        self.home = home
        self.jobs_dir = home / "api" / "jobs"
        self.videos_dir = home / "api" / "videos"
        self.runner = runner
        self.deployment = deployment
        self.max_queue = max_queue
        self.poll_seconds = poll_seconds
        self.state_poll_seconds = state_poll_seconds
        self.cache_size = cache_size
        self.events_grace_seconds = events_grace_seconds
        self.keep_seconds = keep_seconds
        self.prune_every_seconds = prune_every_seconds
        self._pruner: asyncio.Task[None] | None = None
        self.local = local or LocalLauncher(max_jobs=max_jobs)
        self.deployed = DeploymentLauncher(deployment)
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._client: PrefectClient | None = None
        self._closing = False

    # -- life cycle

    async def open(self) -> None:
        """Connect to Prefect and pick up the jobs a previous API process left unfinished."""
        from prefect import get_client

        self._client = get_client()
        await self._client.__aenter__()
        self.local.api_url = str(self._client.api_url)
        await self._recover()
        if self.keep_seconds > 0:
            self._pruner = asyncio.get_running_loop().create_task(self._prune_forever(), name="retention")

    async def close(self, kill_running: bool = False) -> None:
        """Stop following jobs; running jobs keep running unless `kill_running`."""
        self._closing = True
        if self._pruner is not None:
            self._pruner.cancel()
        for job in list(self._jobs.values()):
            job.wake()
            if job.watcher is not None:
                job.watcher.cancel()
        if kill_running:
            await asyncio.to_thread(self.local.kill_all)
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
        """Whether the Prefect API answers."""
        try:
            return (await self.client.api_healthcheck()) is None
        except Exception:  # noqa: BLE001 - a health probe reports, it does not raise
            return False

    async def _recover(self) -> None:
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterTags
        from prefect.client.schemas.filters import FlowRunFilterStateType as StateTypeFilter
        from prefect.client.schemas.objects import StateType

        flow_run_filter = FlowRunFilter(
            tags=FlowRunFilterTags(all_=[API_TAG]),
            state=FlowRunFilterState(type=StateTypeFilter(any_=[
                StateType.SCHEDULED, StateType.PENDING, StateType.RUNNING, StateType.CANCELLING, StateType.PAUSED])),
        )
        try:
            runs = await self.client.read_flow_runs(flow_run_filter=flow_run_filter, limit=200)
        except Exception as exc:  # noqa: BLE001 - the API still starts; jobs are picked up on demand
            log.warning("could not list unfinished jobs in Prefect: %s", exc)
            return
        for flow_run in runs:
            job = self._load(str(flow_run.id), flow_run)
            if job is None:
                continue
            job.update_state(flow_run)
            if job.meta.mode == "local" and job.folder is not None:
                never_started = not (job.folder / "child.pid").exists()
                if never_started and job.state_type in ("PENDING", "SCHEDULED"):
                    self.local.adopt(job, start=True)
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

    async def _launcher(self) -> Launcher:
        if self.runner == "local":
            return self.local
        from prefect.client.schemas.objects import DeploymentStatus
        from prefect.exceptions import ObjectNotFound

        try:
            deployment = await self.client.read_deployment_by_name(self.deployment)
        except ObjectNotFound:
            if self.runner == "deployment":
                raise JobError(503, "no_deployment", f"the deployment {self.deployment!r} does not exist on the "
                               "Prefect server: run `prefect deploy` or set AURA_API_RUNNER=local") from None
            return self.local
        if self.runner == "auto" and deployment.status not in (None, DeploymentStatus.READY):
            log.info("deployment %s has no worker polling; running locally", self.deployment)
            return self.local
        return self.deployed

    async def submit(self, brief: Brief, render: RenderSpec, providers: Providers, correlation_id: str) -> Job:
        """Create the job's flow run and start it; nothing is written before the request is valid."""
        from tasks.naming import job_key_for, slug

        if self.local.queued() >= self.max_queue:
            raise JobError(429, "queue_full", f"{self.max_queue} jobs are already waiting; try again later")
        launcher = await self._launcher()
        self.videos_dir.mkdir(parents=True, exist_ok=True)
        out = self.videos_dir / f"{slug(brief.topic, 40)}-{uuid4().hex[:12]}.mp4"
        parameters = {"brief": brief.model_dump(mode="json"), "render": render.model_dump(mode="json"),
                      "providers": providers.model_dump(mode="json"), "out": str(out)}
        from tasks.runtime.correlation import CORRELATION_TAG

        # the correlation-id tag puts the request's id into every log line of the run
        tags = [API_TAG, f"aura-{launcher.mode}", f"{CORRELATION_TAG}{correlation_id}"]
        flow_run = await launcher.create(self.client, parameters, tags)
        job_id = str(flow_run.id)
        folder = self.jobs_dir / job_id
        try:
            folder.mkdir(parents=True, exist_ok=False)
            # the same key as the flow's: identical jobs share a run folder, so they must not run at once
            key = job_key_for(brief, render, providers)
            created = (flow_run.created or datetime.now(UTC)).isoformat()
            meta = JobMeta(job_id, correlation_id, created, launcher.mode, str(out), brief.topic, key)
            (folder / "job.json").write_text(json.dumps(asdict(meta), indent=1))
        except OSError as exc:
            from prefect.states import Crashed

            await self.client.set_flow_run_state(flow_run.id, Crashed(message="the API could not store the job"),
                                                 force=True)
            raise JobError(507, "storage", "the job could not be stored: the API's disk is full or read-only") from exc
        job = Job(meta, folder)
        job.update_state(flow_run)
        self._remember(job)
        launcher.enqueue(job)
        self._watch(job)
        log.info("job %s (%s) created for %r, correlation %s", job_id, launcher.mode, brief.topic, correlation_id)
        return job

    # -- finding

    def _remember(self, job: Job) -> None:
        """Keep the job in memory; forget the least recently used ended ones beyond `cache_size`."""
        self._jobs[job.meta.job_id] = job
        self._jobs.move_to_end(job.meta.job_id)
        excess = len(self._jobs) - self.cache_size
        if excess > 0:
            idle = [key for key, j in self._jobs.items() if j.watcher is None or j.watcher.done()]
            for key in idle[:excess]:
                del self._jobs[key]

    def _load(self, job_id: str, flow_run: FlowRun) -> Job | None:
        """Build a job from its folder (or, for a run started elsewhere, from its flow run)."""
        if flow_run.tags is None or API_TAG not in flow_run.tags:
            return None
        folder: Path | None = self.jobs_dir / job_id
        try:
            meta = JobMeta(**json.loads((self.jobs_dir / job_id / "job.json").read_text()))
        except (OSError, ValueError, TypeError):
            brief = (flow_run.parameters or {}).get("brief") or {}
            topic = brief.get("topic", "") if isinstance(brief, dict) else ""
            out = str((flow_run.parameters or {}).get("out", ""))
            created = (flow_run.created or datetime.now(UTC)).isoformat()
            tag = next((t for t in flow_run.tags if t.startswith("correlation-id:")), "")
            meta = JobMeta(job_id, tag.partition(":")[2], created, "observe", out, str(topic))
            folder = None
        job = Job(meta, folder)
        job.update_state(flow_run)
        job.read_records()
        self._remember(job)
        return job

    async def get(self, job_id: UUID) -> Job:
        """The job with this id, with its state fresh from Prefect; JobError 404 if there is none."""
        from prefect.exceptions import ObjectNotFound

        key = str(job_id)
        try:
            flow_run = await self.client.read_flow_run(job_id)
        except ObjectNotFound:
            raise JobError(404, "not_found", f"no job with id {key}") from None
        job = self._jobs.get(key)
        if job is None:
            job = self._load(key, flow_run)
            if job is None:
                raise JobError(404, "not_found", f"no job with id {key}")
        else:
            self._jobs.move_to_end(key)
        job.update_state(flow_run)
        job.read_records()
        if job.terminal is None and (job.watcher is None or job.watcher.done()):
            self._watch(job)
        return job

    async def recent(self, limit: int) -> list[Job]:
        """The most recent jobs, newest first."""
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags
        from prefect.client.schemas.sorting import FlowRunSort

        runs = await self.client.read_flow_runs(
            flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=[API_TAG])),
            sort=FlowRunSort.EXPECTED_START_TIME_DESC, limit=limit,
        )
        jobs = []
        for flow_run in runs:
            key = str(flow_run.id)
            job = self._jobs.get(key) or self._load(key, flow_run)
            if job is not None:
                job.update_state(flow_run)
                job.read_records()
                jobs.append(job)
        jobs.sort(key=lambda j: j.meta.created_at, reverse=True)
        return jobs

    # -- following

    def _watch(self, job: Job) -> None:
        if self._closing or job.terminal is not None:
            return
        if job.watcher is None or job.watcher.done():
            job.watcher = asyncio.get_running_loop().create_task(self._follow(job), name=f"job-{job.meta.job_id}")

    async def _follow(self, job: Job) -> None:
        last_check = 0.0
        while job.terminal is None and not self._closing:
            job.read_records()
            now = time.monotonic()
            if now - last_check >= self.state_poll_seconds:
                last_check = now
                try:
                    await self._check(job)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - Prefect hiccups must not end the job's log
                    log.warning("job %s: could not check its flow run: %s", job.meta.job_id, _short(exc))
            if job.terminal is None:
                await asyncio.sleep(self.poll_seconds)
        if job.meta.mode == "local":
            # its process is ending: give its slot to the next job as soon as it has exited
            for _ in range(50):
                if self.local.alive(job) is not True:
                    break
                await asyncio.sleep(0.1)
            self.local.tick()

    async def _check(self, job: Job) -> None:
        """Compare the job's process and its Prefect state, and end the log when the run has ended."""
        flow_run = await self.client.read_flow_run(job.id)
        job.update_state(flow_run)
        if job.meta.mode == "local" and job.folder is not None:
            alive = self.local.alive(job)
            if job.state_type == "CANCELLING" and alive is not False:
                await self.cancel(job, reason="cancelled in Prefect")
                return
            if alive is None and job.state_type in _TERMINAL_TYPES:
                await self.local.stop(job)  # ended in Prefect before it ever started here
                await self._finish_from_state(job, flow_run)
            elif alive is False:
                job.read_records()
                if job.terminal is None:
                    await self._finish_from_state(job, flow_run)
            return
        if job.state_type not in _TERMINAL_TYPES and job.state_type != job.tracker.flow_state:
            job.append({"t": "state", "state": job.state_type, "name": job.state_name})
        try:
            await self._pull_events(job, flow_run)
        except Exception as exc:  # noqa: BLE001 - without events the run's state still drives the job
            log.warning("job %s: could not read its events: %s", job.meta.job_id, _short(exc))
        if job.state_type in _TERMINAL_TYPES:
            # Prefect stores events in batches: wait for the run's last ones before closing its log
            if job.terminal_seen is None:
                job.terminal_seen = time.monotonic()
            age = time.monotonic() - job.terminal_seen
            if flow_run.end_time is not None:
                age = max(age, (datetime.now(UTC) - flow_run.end_time).total_seconds())
            if age >= self.events_grace_seconds:
                await self._finish_from_state(job, flow_run)

    async def _finish_from_state(self, job: Job, flow_run: FlowRun) -> None:
        """Write the terminal record from the flow run's state (the process that ran it said nothing)."""
        from prefect.states import Crashed

        async with job._lock:
            job.read_records()
            if job.terminal is not None:
                return
            kind = job.state_type
            if kind not in _TERMINAL_TYPES:
                if job.meta.mode != "local":
                    return
                message = "the job's process exited unexpectedly"
                await self.client.set_flow_run_state(job.id, Crashed(message=message), force=True)
                job.append({"t": "error", "status": "crashed", "message": message})
                return
            if kind == "COMPLETED":
                out = Path(job.meta.out) if job.meta.out else None
                video = str(out) if out is not None and out.is_file() else None
                job.append({"t": "done", "video": video, "title": job.meta.topic})
            else:
                status = {"CANCELLED": "cancelled", "CRASHED": "crashed"}.get(kind, "failed")
                job.append({"t": "error", "status": status, "message": public_message(job.state_message)})

    async def _pull_events(self, job: Job, flow_run: FlowRun) -> None:
        """Append the run's `aura.stage.*` Prefect events that were not seen yet."""
        from datetime import timedelta

        from prefect.events.filters import (
            EventAnyResourceFilter,
            EventFilter,
            EventNameFilter,
            EventOccurredFilter,
            EventOrder,
        )

        since = (flow_run.created or datetime.now(UTC)) - timedelta(minutes=5)
        event_filter = EventFilter(
            occurred=EventOccurredFilter(since=since, until=datetime.now(UTC) + timedelta(minutes=5)),
            event=EventNameFilter(prefix=["aura.stage."]),
            any_resource=EventAnyResourceFilter(id=[f"prefect.flow-run.{job.meta.job_id}"]),
            order=EventOrder.ASC,
        )
        page = await self.client.read_events(filter=event_filter, limit=50)
        events = list(page.events)
        while page.next_page is not None and len(events) < 5000:
            page = await self.client.read_events_page(str(page.next_page))
            events.extend(page.events)
        for event in events:
            event_id = str(event.id)
            if event_id in job.seen_event_ids:
                continue
            job.seen_event_ids.add(event_id)
            record = event_record(event.event, dict(event.payload or {}), event.occurred.timestamp())
            if record is not None:
                job.append({**record, "eventId": event_id})

    # -- cancelling

    async def cancel(self, job: Job, reason: str = "cancelled by request") -> Job:
        """Cancel the job in Prefect and stop its process; a job that has ended is left as it is."""
        from prefect.states import Cancelled, Cancelling

        if job.terminal is not None:
            raise JobError(409, "already_finished", f"the job has already ended ({job.status})")
        async with job._lock:
            job.read_records()
            if job.terminal is not None:
                return job
            if job.meta.mode == "local" and job.folder is not None:
                if job.state_type != "CANCELLING":
                    await self.client.set_flow_run_state(job.id, Cancelling(message=reason), force=True)
                await self.local.stop(job)
                job.read_records()
                if job.terminal is None:  # it did not finish in the meantime
                    await self.client.set_flow_run_state(job.id, Cancelled(message=reason), force=True)
                    job.append({"t": "error", "status": "cancelled", "message": reason})
            elif job.state_type in ("SCHEDULED", "PENDING"):  # no worker has it yet: nothing to stop
                await self.client.set_flow_run_state(job.id, Cancelled(message=reason))
                job.state_type, job.state_name = "CANCELLED", "Cancelled"
            else:  # its worker stops it and reports Cancelled
                await self.client.set_flow_run_state(job.id, Cancelling(message=reason))
                job.state_type, job.state_name = "CANCELLING", "Cancelling"
        return job


def _short(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"


def event_record(name: str, payload: dict[str, Any], occurred: float) -> dict[str, Any] | None:
    """A progress record from an `aura.stage.<state>` Prefect event (item reports are named `progress`)."""
    if not name.startswith("aura.stage."):
        return None
    state = str(payload.get("state") or name.removeprefix("aura.stage."))
    state = "item" if state == "progress" else state
    return {"t": "progress", "stage": payload.get("stage"), "done": payload.get("done", 0),
            "total": payload.get("total", 0), "message": payload.get("message", ""), "state": state,
            "at": occurred}


# ---------------------------------------------------------------------------------------------
# the child process: `python -m studio.jobs FLOW_RUN_ID JOB_FOLDER`


def _child_main(flow_run_id: str, folder: Path) -> int:
    """Execute one existing flow run, appending its progress reports and its outcome to the job's log."""
    from tasks.runtime.progress import Progress, add_listener

    records = RecordFile(folder / "progress.jsonl")
    lock = threading.Lock()

    def write(record: dict[str, Any]) -> None:
        with lock:
            records.append({**record, "at": time.time()})

    def on_progress(event: Progress) -> None:
        write({"t": "progress", "stage": event.stage, "done": event.done, "total": event.total,
               "message": event.message, "state": event.state})

    def on_term(signum: int, _frame: Any) -> None:
        from providers.media.process import kill_all_children

        kill_all_children()
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)
    add_listener(on_progress)

    from prefect import get_client
    from prefect.flow_engine import run_flow

    from flows.make_video import make_video
    from providers.errors import AuraError

    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(UUID(flow_run_id))
    state: Any = run_flow(make_video, flow_run=flow_run, return_type="state")
    if state is not None and state.is_completed():
        video = state.result()
        write({"t": "done", "video": str(video.path), "title": video.title, "duration": video.duration,
               "width": video.width, "height": video.height})
        return 0
    error = state.result(raise_on_failure=False) if state is not None else None
    if isinstance(error, AuraError):
        message = public_message(str(error))
    elif isinstance(error, BaseException):
        message = f"the pipeline failed unexpectedly ({type(error).__name__}); see the flow run's logs in Prefect"
    else:
        message = public_message(getattr(state, "message", None))
    status = "cancelled" if state is not None and (state.is_cancelled() or state.is_cancelling()) else "failed"
    write({"t": "error", "status": status, "message": message})
    return 1


if __name__ == "__main__":
    raise SystemExit(_child_main(sys.argv[1], Path(sys.argv[2])))
