"""Leftovers of interrupted runs: partial files and scratch folders, removed before a run starts.

Files are written under temporary names (see providers.media.files.atomic_path) and renamed when done;
a run killed with SIGKILL cannot delete its own, so the next run of any job sweeps them. Stopping a
cancelled run's children is tasks/runtime/cancellation.py's job.
"""

from __future__ import annotations

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
    """Remove what a killed run of this job left behind (never cached: it must run every time)."""
    removed = sweep_partials(Path(run_dir))
    # beside the output only our own temporary names, and only stale ones: another job may be writing
    removed += sweep_partials(Path(out).parent, older_than=600, recursive=False)
    return len(removed)
