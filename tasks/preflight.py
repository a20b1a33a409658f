"""Pure preflight checks: can the output be written, and does the machine have what a run needs."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import psutil

from providers.errors import ConfigurationError
from providers.media.process import ffmpeg_exe
from tasks.schemas import Preflight

__all__ = ["BriefError", "check_machine", "check_output_path"]


class BriefError(ValueError):
    """The brief or the requested output cannot be used; the message says what to fix."""


def check_output_path(out: str | os.PathLike[str]) -> Path:
    """The absolute output path, after checking that an MP4 can be written there (nothing is created)."""
    path = Path(out).expanduser()
    if path.suffix.lower() != ".mp4":
        raise BriefError(f"the output must be an .mp4 file, not {path.name!r}")
    if path.is_dir():
        raise BriefError(f"the output {path} is a folder: give a file name ending in .mp4")
    parent = path.parent.resolve()
    existing = parent
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise BriefError(f"cannot write the output: {existing} is not a writable folder")
    if path.exists() and not os.access(path, os.W_OK):
        raise BriefError(f"cannot overwrite {path}: it is read-only")
    return parent / path.name


def check_machine(folder: Path, min_disk_gb: float, min_memory_mb: int) -> Preflight:
    """Check that ffmpeg runs, that `folder`'s disk has room, and that memory is available."""
    exe = ffmpeg_exe()
    try:
        subprocess.run([exe, "-hide_banner", "-version"], capture_output=True, check=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        raise ConfigurationError(f"ffmpeg does not run ({exe}): reinstall imageio-ffmpeg or set AURA_FFMPEG") from exc
    existing = folder
    while not existing.exists():
        existing = existing.parent
    free_gb = shutil.disk_usage(existing).free / 1e9
    if free_gb < min_disk_gb:
        raise ConfigurationError(
            f"only {free_gb:.2f} GB free in {existing}; Aura needs {min_disk_gb:.1f} GB: "
            "free space or choose another folder"
        )
    available_mb = int(psutil.virtual_memory().available / 2**20)
    if available_mb < min_memory_mb:
        raise ConfigurationError(f"only {available_mb} MB of memory available; Aura needs {min_memory_mb} MB")
    return Preflight(ffmpeg=exe, free_disk_gb=round(free_gb, 2), available_memory_mb=available_mb)
