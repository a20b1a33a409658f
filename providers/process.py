"""Run ffmpeg (or any child) with a hard timeout, a stall watchdog and no orphans.

Each child runs in its own process group. On timeout, stall, error, Ctrl-C or cancellation of the
calling thread the whole group is killed, so no ffmpeg outlives the run that started it. Children
still alive are also killed when the interpreter exits, and, on Linux, by the kernel when the
thread that started them dies (even by SIGKILL).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from providers.errors import MediaError, TransientError

__all__ = ["ffmpeg_exe", "kill_all_children", "run_ffmpeg"]

_live: set[subprocess.Popen[bytes]] = set()
_live_lock = threading.Lock()


@lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary: `AURA_FFMPEG`, else the one shipped by imageio-ffmpeg."""
    override = os.environ.get("AURA_FFMPEG")
    if override:
        return override
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child between fork and exec
    # If the parent is SIGKILLed it cannot clean up; the kernel then kills ffmpeg for us (Linux).
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def kill_all_children() -> None:
    """Kill every child this module started that is still running."""
    with _live_lock:
        procs = list(_live)
    for proc in procs:
        _kill(proc)


atexit.register(kill_all_children)


def run_ffmpeg(
    args: Sequence[str | Path],
    *,
    timeout: float = 600.0,
    stall_timeout: float = 120.0,
    cwd: Path | None = None,
) -> str:
    """Run ffmpeg with `args`; return its stderr. Raise MediaError on failure, TransientError on a timeout.

    Progress is read from `-progress`; no progress for `stall_timeout` seconds counts as a stall.
    """
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-progress", "pipe:1",
           *map(str, args)]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd, start_new_session=True,
        preexec_fn=_die_with_parent,  # noqa: PLW1509 - only prctl, no locks or Python objects
    )
    with _live_lock:
        _live.add(proc)
    last_progress = [time.monotonic()]
    stderr_chunks: list[bytes] = []

    def read_progress() -> None:
        assert proc.stdout is not None
        for _ in proc.stdout:
            last_progress[0] = time.monotonic()

    def read_errors() -> None:
        assert proc.stderr is not None
        stderr_chunks.append(proc.stderr.read())

    readers = [threading.Thread(target=read_progress, daemon=True), threading.Thread(target=read_errors, daemon=True)]
    for reader in readers:
        reader.start()
    started = time.monotonic()
    try:
        while proc.poll() is None:
            now = time.monotonic()
            if now - started > timeout:
                _kill(proc)
                raise TransientError(f"ffmpeg ran longer than {timeout:.0f} s and was killed")
            if now - last_progress[0] > stall_timeout:
                _kill(proc)
                raise TransientError(f"ffmpeg made no progress for {stall_timeout:.0f} s and was killed")
            time.sleep(0.05)
    except BaseException:
        _kill(proc)
        raise
    finally:
        with _live_lock:
            _live.discard(proc)
    for reader in readers:
        reader.join(timeout=5)
    stderr = b"".join(stderr_chunks).decode(errors="replace")
    if proc.returncode != 0:
        tail = stderr.strip().splitlines()[-3:]
        if proc.returncode < 0 or proc.returncode in (137, 143, 255) and not tail:
            raise MediaError(f"ffmpeg was killed (signal {-proc.returncode if proc.returncode < 0 else proc.returncode})")
        raise MediaError(f"ffmpeg failed ({proc.returncode}): {' | '.join(tail) or 'no message'}")
    return stderr
