"""Leftovers of interrupted runs: partial files and scratch folders, removed before a run starts.

Files are written under temporary names (see providers.media.files.atomic_path) and renamed when done;
a run killed with SIGKILL cannot delete its own, so the next run of any job sweeps them. Stopping a
cancelled run's children is tasks/runtime/cancellation.py's job.
Two runs of one job never sweep each other: see tasks/runtime/joblock.py.
"""

from __future__ import annotations

import glob
import shutil
import time
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

__all__ = ["sweep_leftovers", "sweep_partials"]

_PATTERNS = ("**/.*.partial.*", "**/.captions-*")


def sweep_partials(folder: Path, older_than: float = 0.0, recursive: bool = True) -> list[Path]:
    """Delete partial files and scratch folders under `folder` not touched for `older_than` seconds."""
    if not folder.is_dir():
        return []
    removed = []
    now = time.time()
    for pattern in _PATTERNS:
        for path in folder.glob(pattern if recursive else pattern.removeprefix("**/")):
            try:
                if now - path.stat().st_mtime < older_than:
                    continue
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
                removed.append(path)
            except FileNotFoundError:
                continue
    return removed


@task(name="sweep_leftovers", cache_policy=NO_CACHE)
def sweep_leftovers(run_dir: str, out: str) -> int:
    """Remove what a killed run of this job left behind, unless another run of it is alive (never cached)."""
    from prefect.runtime import flow_run

    from tasks.runtime.joblock import claim_job

    owner = flow_run.get_id()
    lock = claim_job(Path(run_dir), owner)  # held until the flow run ends (its hooks release it)
    if not lock.alone:
        if owner is None:  # called outside a flow run: nothing would ever release it
            lock.release()
        return 0  # another run of this job is at work: its partial files are not leftovers
    try:
        removed = sweep_partials(Path(run_dir))
        # beside the output: this job's own temporary names (a copy across file systems), whatever their age
        target = Path(out)
        for final in (target, target.with_suffix(".srt"), target.with_suffix(".vtt")):
            for path in target.parent.glob(f".{glob.escape(final.stem)}.*.partial{glob.escape(final.suffix)}"):
                path.unlink(missing_ok=True)
                removed.append(path)
        # other jobs' temporary names only when stale: another job may be writing
        removed += sweep_partials(target.parent, older_than=600, recursive=False)
    finally:
        if owner is None:
            lock.release()
        else:
            lock.share()
    return len(removed)
