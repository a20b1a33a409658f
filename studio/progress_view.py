"""A live per-stage progress display (rich, on stderr) fed by the pipeline's progress reports."""

from __future__ import annotations

import threading
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from tasks.runtime.progress import STAGE_WEIGHTS, add_listener, remove_listener
from tasks.runtime.progress import Progress as StageProgress

__all__ = ["ProgressView"]


class ProgressView:
    """Shows one bar per stage while a run is in progress."""

    def __init__(self, console: Console, enabled: bool = True) -> None:
        self.enabled = enabled
        self.bars = Progress(
            TextColumn("{task.description:<12}"), BarColumn(), TextColumn("{task.fields[count]:>7}"),
            TimeElapsedColumn(), TextColumn("{task.fields[note]}"), console=console, transient=False,
        )
        self.ids: dict[str, TaskID] = {}
        self.lock = threading.Lock()

    def on_progress(self, event: StageProgress) -> None:
        """Update the stage's bar from one progress report."""
        with self.lock:
            if event.stage not in self.ids:
                self.ids[event.stage] = self.bars.add_task(event.stage, total=1, note="", count="")
            bar = self.ids[event.stage]
            task = self.bars.tasks[bar]
            if event.state == "started":
                self.bars.start_task(bar)
                self.bars.update(bar, note=event.message)
            elif event.state == "item":
                done = int(task.completed) + 1
                self.bars.update(bar, total=event.total, completed=done, note=event.message,
                                 count=f"{done}/{event.total}")
            elif event.state in ("finished", "degraded"):
                total = max(int(task.completed), event.done, 1)
                self.bars.update(bar, total=total, completed=total, note=event.message, count=f"{total}/{total}")
                self.bars.stop_task(bar)
            else:
                self.bars.update(bar, note=event.message)

    def __enter__(self) -> ProgressView:
        if self.enabled:
            for stage in STAGE_WEIGHTS:
                self.ids[stage] = self.bars.add_task(stage, total=1, note="waiting", count="", start=False)
            self.bars.start()
            add_listener(self.on_progress)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self.enabled:
            remove_listener(self.on_progress)
            self.bars.stop()
