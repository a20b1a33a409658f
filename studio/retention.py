"""How long the API keeps what its jobs made: videos and working media of ended jobs, then removed.

A job's folder (`job.json`, and `ended` once its log has ended) is a few bytes and stays, as does its
flow run in Prefect, so the job keeps its status and history; what goes is the MP4 with its caption
files in `api/videos/` and the run's working media in `runs/<job key>/` (images, audio, segments),
which are what fill a disk. A job counts from the moment its log ended (when `ended` was written);
unfinished jobs are never touched, nor is a run folder that an unfinished job shares (identical jobs
share one).
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ENDED_MARK", "EXPIRED_MARK", "Pruned", "prune_ended_jobs"]

log = logging.getLogger("aura.api.retention")

EXPIRED_MARK = "expired"  # a file in the job's folder: its video was removed by the retention policy
ENDED_MARK = "ended"  # a file in the job's folder, written when its log ends: `{"status", "video", "at"}`


@dataclass(frozen=True)
class Pruned:
    """What one pass removed."""

    jobs: int = 0
    files: int = 0
    bytes: int = 0


def _remove(path: Path) -> tuple[int, int]:
    """Delete a file or a folder tree; (files, bytes) removed."""
    if path.is_dir() and not path.is_symlink():
        files = [p for p in path.rglob("*") if p.is_file()]
        size = sum(p.stat().st_size for p in files)
        shutil.rmtree(path, ignore_errors=True)
        return len(files), size
    if path.is_file():
        size = path.stat().st_size
        path.unlink(missing_ok=True)
        return 1, size
    return 0, 0


def _meta(folder: Path) -> dict[str, object]:
    try:
        meta = json.loads((folder / "job.json").read_text())
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def _unfinished_keys(folders: Iterable[Path]) -> set[str]:
    """The run keys of jobs whose log has not ended: their run folders are in use."""
    return {str(_meta(f).get("key", "")) for f in folders if not (f / ENDED_MARK).exists()}


def prune_ended_jobs(home: Path, keep_seconds: float, now: float | None = None) -> Pruned:
    """Remove the videos and run media of jobs that ended more than `keep_seconds` ago."""
    jobs_dir, videos_dir, runs_dir = home / "api" / "jobs", home / "api" / "videos", home / "runs"
    if keep_seconds <= 0 or not jobs_dir.is_dir():
        return Pruned()
    cutoff = (time.time() if now is None else now) - keep_seconds
    folders = [f for f in jobs_dir.iterdir() if f.is_dir()]
    busy_keys = _unfinished_keys(folders)
    jobs = files = size = 0
    for folder in folders:
        try:
            if (folder / EXPIRED_MARK).exists() or (folder / ENDED_MARK).stat().st_mtime > cutoff:
                continue
        except OSError:  # not ended
            continue
        meta = _meta(folder)
        if not meta:
            continue
        doomed: list[Path] = []
        out = Path(str(meta.get("out", "")))
        if out.name and out.parent.resolve() == videos_dir.resolve():  # only ever inside the API's own folder
            doomed += sorted(videos_dir.glob(f"{out.stem}.*"))
        key = str(meta.get("key", ""))
        if key and "/" not in key and key not in (".", "..") and key not in busy_keys:
            doomed.append(runs_dir / key)
        for path in doomed:
            removed, removed_bytes = _remove(path)
            files, size = files + removed, size + removed_bytes
        (folder / EXPIRED_MARK).write_text(f"{time.time():.0f}\n")
        jobs += 1
    if jobs:
        log.info("retention: removed the videos and media of %d ended job(s): %d files, %.1f MB",
                 jobs, files, size / 1e6)
    return Pruned(jobs, files, size)
