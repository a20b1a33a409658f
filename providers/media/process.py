"""Run ffmpeg (or any child) with a hard timeout, a stall watchdog and no orphans.

Each child runs in its own process group. On timeout, stall, error, Ctrl-C or cancellation of the
calling thread the whole group is killed, so no ffmpeg outlives the run that started it. Children
still alive are also killed when the interpreter exits, and, on Linux, by the kernel when the
thread that started them dies (even by SIGKILL).

How a failed ffmpeg is reported decides whether its task is retried:

    ran past its timeout, or stalled       -> TransientError (killed by us; worth another try)
    killed by a signal someone else sent   -> TransientError (OOM killer, an operator, a crash)
    stopped by kill_all_children(), or     -> MediaError     (the run is being cancelled: no retry,
    the interpreter is exiting                                and no new ffmpeg starts afterwards)
    exited with an error of its own        -> MediaError     (bad input or arguments, a full disk)
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

__all__ = ["accept_children", "ffmpeg_exe", "kill_all_children", "run_ffmpeg"]

_live: set[subprocess.Popen[bytes]] = set()
_live_lock = threading.Lock()
_stopping = threading.Event()  # set by kill_all_children(): the process is cancelling its run
_CANCELLED = "ffmpeg was stopped because the run is being cancelled"


@lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary: `AURA_FFMPEG`, else the one shipped by imageio-ffmpeg."""
    override = os.environ.get("AURA_FFMPEG")
    if override:
        return override
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


_PR_SET_PDEATHSIG = 1
# looked up once here: loading a library in the child of a threaded process can deadlock
_prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None
# Held back from the child until it has its own session: a Ctrl-C to the terminal's process group
# that lands between fork and setsid would otherwise raise KeyboardInterrupt in Python's at-fork
# hooks inside the child and print a traceback under the CLI's "cancelled" message.
_HELD = {signal.SIGINT, signal.SIGTERM}


def _die_with_parent() -> None:  # runs in the child between fork and exec
    # If the parent is SIGKILLed it cannot clean up; the kernel then kills ffmpeg for us (Linux).
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    # ffmpeg starts with the default handlers and nothing blocked; a signal held back since the fork
    # is delivered now, to the default handler, and ends the child quietly
    for number in _HELD:
        signal.signal(number, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _HELD)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def kill_all_children() -> None:
    """Kill every child this module started that is still running, and refuse to start new ones.

    Meant for a process that is cancelling its run (Ctrl-C, SIGTERM, exit): a child it kills is
    reported as cancelled, not as a failure worth retrying. `accept_children()` lifts the refusal.
    """
    _stopping.set()
    with _live_lock:
        procs = list(_live)
    for proc in procs:
        _kill(proc)


def accept_children() -> None:
    """Start children again after `kill_all_children()` (a long-lived process that cancelled one run)."""
    _stopping.clear()


def _killed_by_signal(returncode: int, stderr_tail: list[str]) -> str | None:
    """The signal's name when ffmpeg died of one (or exited as ffmpeg does on SIGINT/SIGTERM), else None."""
    if returncode < 0:
        number = -returncode
    elif returncode in (137, 143) and not stderr_tail:  # a shell-style 128 + signal
        number = returncode - 128
    elif returncode == 255 and not stderr_tail:  # ffmpeg's own exit after it caught SIGINT/SIGTERM
        return "SIGINT or SIGTERM"
    else:
        return None
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


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
    if _stopping.is_set() or not threading.main_thread().is_alive():
        raise MediaError(_CANCELLED)
    held = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD)  # the child inherits the mask (see _HELD)
    try:
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd, start_new_session=True,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - prctl and signal dispositions only
        )
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
    with _live_lock:
        _live.add(proc)
    if _stopping.is_set():  # kill_all_children() ran while this one was starting: it missed it
        _kill(proc)
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
            if not threading.main_thread().is_alive():
                # The interpreter is exiting (the run was cancelled or crashed). It joins worker threads
                # before it runs atexit handlers, so this ffmpeg would otherwise hold the exit up.
                _kill(proc)
                raise MediaError(_CANCELLED)
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
        if _stopping.is_set():
            raise MediaError(_CANCELLED)
        tail = stderr.strip().splitlines()[-3:]
        killer = _killed_by_signal(proc.returncode, tail)
        if killer is not None:
            # not us: the OOM killer, an operator, a crash. The output was written under a temporary
            # name, so nothing half-written is kept, and another attempt may well succeed.
            raise TransientError(f"ffmpeg was killed by {killer} before it finished")
        if "No space left on device" in stderr:
            raise MediaError("the disk is full: ffmpeg could not write its output (No space left on device); "
                             "free some space or write the video to another folder")
        raise MediaError(f"ffmpeg failed ({proc.returncode}): {' | '.join(tail) or 'no message'}")
    return stderr
