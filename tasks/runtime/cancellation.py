"""Cancellation, in one place: kill a run's children when it is cancelled, and every child when we die.

- `children_stopped_on_interrupt` (and its decorator form for the flow) kills this process's ffmpeg
  children as soon as SIGINT or SIGTERM arrives, so that a cancelled run (Ctrl-C in the CLI, Prefect's
  cancel through a runner or worker) ends in seconds instead of waiting for its renders.
- `cancelled_by_signals` makes Ctrl-C and SIGTERM a cancel of a command's run: its ffmpeg killed at once, the
  run interrupted, and the process gone a few seconds later (at once on a second signal) even if Prefect
  cannot report the end, with every child process stopped.
- `children_die_with_me` starts a small guardian process that kills every descendant of this process
  once this process is gone, whatever killed it (SIGKILL included): no Prefect server, runner, flow run
  or ffmpeg outlives the command that started it.
"""

from __future__ import annotations

import contextlib
import functools
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import IO, Any, ParamSpec, TypeVar

from providers.media.process import kill_all_children

__all__ = [
    "Interrupt", "cancelled_by_signals", "children_die_with_me", "children_stopped_on_interrupt",
    "stops_children_on_interrupt",
]

P = ParamSpec("P")
R = TypeVar("R")


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


class Interrupt:
    """What a Ctrl-C or SIGTERM did to a `cancelled_by_signals` block: which signal, and saying so once."""

    def __init__(self, announce: Callable[[], None]) -> None:
        self.number = 0  # the signal that cancelled the block; 0 while none has
        self._announce = announce
        self._said = threading.Lock()
        self._begun = threading.Lock()

    @property
    def cancelled(self) -> bool:
        """Whether a signal has cancelled the block."""
        return self.number != 0

    @property
    def exit_code(self) -> int:
        """128 + the signal: 130 for Ctrl-C, 143 for SIGTERM."""
        return 128 + (self.number or signal.SIGINT)

    def announce(self) -> None:
        """Tell the user that the run was cancelled (once, whichever thread gets there first)."""
        if self._said.acquire(blocking=False):
            self._announce()

    def begin(self, number: int) -> bool:
        """Record the cancelling signal; True for the first one only."""
        if number not in (signal.SIGINT, signal.SIGTERM) or not self._begun.acquire(blocking=False):
            return False
        self.number = self.number or number
        return True


def _stop_all(processes: list[Any], grace: float) -> None:
    """SIGTERM every one of `processes` (psutil), then SIGKILL those still alive after `grace` seconds."""
    import psutil

    for proc in processes:
        with contextlib.suppress(psutil.Error):
            proc.terminate()
    for proc in psutil.wait_procs(processes, timeout=grace)[1]:
        with contextlib.suppress(psutil.Error):
            proc.kill()


def _leave(interrupt: Interrupt) -> None:
    """Stop every child process (ffmpeg, a temporary API server) and end this process now."""
    import psutil

    kill_all_children()
    _stop_all(psutil.Process().children(recursive=True), grace=2)
    interrupt.announce()
    sys.stderr.flush()
    os._exit(interrupt.exit_code)


@contextlib.contextmanager
def cancelled_by_signals(announce: Callable[[], None], grace: float = 5.0) -> Iterator[Interrupt]:
    """Make Ctrl-C and SIGTERM cancel the block; in the main thread of a command that runs a flow itself.

    The first signal kills ffmpeg at once (whichever thread the kernel hands it to) and raises
    KeyboardInterrupt in the block: Prefect then records the run as crashed and winds down. When it cannot
    within `grace` seconds (its API server got the terminal's Ctrl-C too, and it would retry for minutes),
    or on a second signal, the process stops its children and exits with 128 + the signal, after
    `announce`. An interrupted block ends in SystemExit(128 + the signal), also after `announce`. The signal
    handlers stay in place once a signal came: the process is on its way out.
    """
    interrupt = Interrupt(announce)

    def leave_after_grace() -> None:
        time.sleep(0.5 + grace)  # the stopped ffmpeg's tasks remove their temporary files first
        _leave(interrupt)

    def begin(number: int) -> None:  # from a helper thread: ffmpeg is already being killed
        if interrupt.begin(number):
            threading.Thread(target=leave_after_grace, name="aura-cancel", daemon=True).start()

    def on_signal(signum: int, _frame: Any) -> None:
        # no locks here (the interrupted code may hold them): the work happens in threads
        if handled:  # a second Ctrl-C does not wait
            threading.Thread(target=_leave, args=(interrupt,), name="aura-cancel-now", daemon=True).start()
            return
        handled.append(signum)
        interrupt.number = interrupt.number or signum  # the exit status is known before the block unwinds
        threading.Thread(target=begin, args=(signum,), daemon=True).start()
        raise KeyboardInterrupt

    handled: list[int] = []
    previous = signal.signal(signal.SIGINT, on_signal), signal.signal(signal.SIGTERM, on_signal)
    try:
        with children_stopped_on_interrupt(on_signal=begin):
            yield interrupt
    except KeyboardInterrupt:
        interrupt.announce()
        raise SystemExit(interrupt.exit_code) from None
    finally:
        if not handled and not interrupt.cancelled:
            signal.signal(signal.SIGINT, previous[0])
            signal.signal(signal.SIGTERM, previous[1])


_guardian: subprocess.Popen[bytes] | None = None


def children_die_with_me() -> subprocess.Popen[bytes]:
    """Start (once) the guardian that kills all our descendants when this process ends, even by SIGKILL.

    The guardian holds the read end of a pipe whose write end only this process holds: the kernel
    closes it when we die, however we die, and the guardian then kills every descendant it has seen
    (it looks every half second, so a child reparented to init after our death is still known).
    """
    global _guardian
    if _guardian is not None and _guardian.poll() is None:
        return _guardian
    _guardian = subprocess.Popen(
        [sys.executable, "-m", "tasks.runtime.cancellation", str(os.getpid())],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,  # Ctrl-C in the terminal must not stop the guardian before it does its job
    )
    return _guardian


def _guard(pid: int, pipe: IO[bytes]) -> None:
    """The guardian's loop: remember `pid`'s descendants until the pipe closes, then kill them all."""
    import psutil

    me = os.getpid()
    known: dict[int, psutil.Process] = {}
    try:
        parent = psutil.Process(pid)
    except psutil.Error:
        return
    while True:
        with contextlib.suppress(psutil.Error):
            for child in parent.children(recursive=True):
                if child.pid != me:
                    known.setdefault(child.pid, child)
        for child_pid, child in list(known.items()):
            if not child.is_running():  # is_running also compares the start time: a reused pid is not ours
                del known[child_pid]
        ready, _, _ = select.select([pipe], [], [], 0.5)
        if ready and not pipe.read1(1 << 12):  # type: ignore[attr-defined]
            break
    family = list(known.values())
    for proc in list(family):
        with contextlib.suppress(psutil.Error):
            family += [c for c in proc.children(recursive=True) if c.pid != me]
    _stop_all(family, grace=3)


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _guard(int(sys.argv[1]), sys.stdin.buffer)

