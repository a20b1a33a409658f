"""One lock file per job: runs of the same job share it; only a run alone on its job sweeps leftovers.

Every run of a job holds a shared `flock` on `runs/<job>/.lock` from its start-up sweep until it
ends. The sweep first asks for the lock exclusively without waiting: it gets it only when no other
run of this job is alive (in this process, another process, or another worker on the same host or
a shared volume that supports flock), and only then are partial files removed, since any that exist
belong to runs that died. Otherwise the sweep leaves them alone: they are another live run's work.
A run killed with SIGKILL releases its lock with its process, so the next run sweeps after it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from pathlib import Path
from typing import Any

__all__ = ["LOCK_NAME", "JobLock", "claim_job", "release_job", "release_job_hook"]

LOCK_NAME = ".lock"

_held: dict[str, list[JobLock]] = {}  # by owner (a flow run id): the locks it holds until it ends
_held_lock = threading.Lock()


class JobLock:
    """A run's hold on its job folder: shared with other runs of the job, exclusive while alone."""

    def __init__(self, run_dir: Path) -> None:
        run_dir.mkdir(parents=True, exist_ok=True)
        self.path = run_dir / LOCK_NAME
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        self.alone = self._try(fcntl.LOCK_EX | fcntl.LOCK_NB)
        if not self.alone:
            fcntl.flock(self.fd, fcntl.LOCK_SH)  # waits only while another run sweeps

    def _try(self, how: int) -> bool:
        try:
            fcntl.flock(self.fd, how)
        except BlockingIOError:
            return False
        return True

    def share(self) -> None:
        """Let other runs of this job start beside this one (after the sweep)."""
        if self.alone:
            fcntl.flock(self.fd, fcntl.LOCK_SH)

    def release(self) -> None:
        """Give the lock up (closing the descriptor releases the flock)."""
        with contextlib.suppress(OSError):
            os.close(self.fd)


def claim_job(run_dir: Path, owner: str | None) -> JobLock:
    """Take `run_dir`'s lock for `owner` (held until `release_job(owner)`, or the process ends)."""
    lock = JobLock(run_dir)
    if owner is not None:
        with _held_lock:
            _held.setdefault(owner, []).append(lock)
    return lock


def release_job(owner: str) -> None:
    """Release every job lock `owner` holds."""
    with _held_lock:
        locks = _held.pop(owner, [])
    for lock in locks:
        lock.release()


def release_job_hook(flow: Any, flow_run: Any, state: Any) -> None:
    """Prefect flow hook (completion, failure, cancellation, crash): the run's job locks go with it."""
    release_job(str(flow_run.id))
