"""Leftovers of interrupted runs: partial files and scratch folders, removed before a run starts.

Files are written under temporary names (see providers.media.files.atomic_path) and renamed when done;
a run killed with SIGKILL cannot delete its own, so the next run of any job sweeps them.
`children_stopped_on_interrupt` stops a cancelled run's ffmpeg at once (Ctrl-C, Prefect's cancel), so
that its worker threads, which remove their own temporary files, end before the process exits.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ParamSpec, TypeVar

from prefect import task
from prefect.cache_policies import NO_CACHE

from providers.media.process import kill_all_children

__all__ = ["children_stopped_on_interrupt", "stops_children_on_interrupt", "sweep_leftovers", "sweep_partials"]

P = ParamSpec("P")
R = TypeVar("R")

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


class _SignalRelay:
    """Reports SIGINT/SIGTERM from whichever thread the kernel gave it to, at once.

    Python runs signal handlers in the main thread only, and only when that thread runs Python code.
    The kernel may hand a process-wide signal (Ctrl-C, the worker's SIGTERM) to any thread; the main
    thread, blocked waiting for a task, then notices it only when the task ends: a cancel would wait
    for a whole render. The C-level handler also writes the signal's number to the wakeup fd, from
    any thread, so a thread reading that fd learns of the signal immediately.
    """

    def __init__(self, on_signal: Callable[[int], None]) -> None:
        self.on_signal = on_signal
        self.read_fd, self.write_fd = os.pipe()
        os.set_blocking(self.write_fd, False)
        try:
            self.previous = signal.set_wakeup_fd(self.write_fd, warn_on_full_buffer=False)
        except ValueError:  # not the main thread: signals cannot be watched from here
            os.close(self.read_fd)
            os.close(self.write_fd)
            raise
        self.thread = threading.Thread(target=self._relay, name="aura-signal-relay", daemon=True)
        self.thread.start()

    def _relay(self) -> None:
        while True:
            try:
                data = os.read(self.read_fd, 64)
            except OSError:
                return
            if not data:
                return
            if self.previous >= 0:  # whoever watched before us still hears of every signal
                with contextlib.suppress(OSError):
                    os.write(self.previous, data)
            for number in dict.fromkeys(data):
                if number in (signal.SIGINT, signal.SIGTERM):
                    self.on_signal(number)

    def close(self) -> None:
        signal.set_wakeup_fd(self.previous)
        os.close(self.write_fd)  # the relay reads end-of-file and returns
        self.thread.join(timeout=2)
        os.close(self.read_fd)


@contextlib.contextmanager
def children_stopped_on_interrupt(on_signal: Callable[[int], None] | None = None) -> Iterator[None]:
    """Kill this process's ffmpeg children as soon as SIGINT or SIGTERM arrives, or the block is interrupted.

    Prefect answers a cancellation (SIGTERM, raised as TerminationSignal in the flow's thread) and
    Ctrl-C by waiting for the running tasks before it exits; a task waiting on a long ffmpeg would
    hold that up until the worker kills the process. Killing ffmpeg first makes those tasks end at
    once. `on_signal(number)` is called too, from a helper thread. In the main thread only; ordinary
    exceptions (a failed stage) leave other work alone.
    """

    def stop(number: int) -> None:
        kill_all_children()
        if on_signal is not None:
            on_signal(number)

    relay = _SignalRelay(stop) if threading.current_thread() is threading.main_thread() else None
    try:
        yield
    except Exception:
        raise
    except BaseException:
        kill_all_children()
        raise
    finally:
        if relay is not None:
            relay.close()


def stops_children_on_interrupt(fn: Callable[P, R]) -> Callable[P, R]:
    """Decorator form of `children_stopped_on_interrupt` for a flow function.

    A plain wrapper rather than the context manager used as a decorator: that one holds a generator,
    which cannot be pickled, and task runners such as Dask pickle the flow with every task call.
    """

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with children_stopped_on_interrupt():
            return fn(*args, **kwargs)

    return wrapper
