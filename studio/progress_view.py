"""A live per-stage progress display (rich, on stderr): the run's reports folded by tasks.runtime.progress.fold."""

from __future__ import annotations

import threading
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from tasks.runtime.progress import Progress as StageProgress
from tasks.runtime.progress import RunView, Stage, add_listener, fold, remove_listener

__all__ = ["ProgressView"]


class ProgressView:
    """Shows one bar per stage while a run is in progress."""

    def __init__(self, console: Console, enabled: bool = True) -> None:
        self.enabled = enabled
        self.bars = Progress(
            TextColumn("{task.description:<12}"), BarColumn(), TextColumn("{task.fields[count]:>7}"),
            TimeElapsedColumn(), TextColumn("{task.fields[note]}"), console=console, transient=False,
        )
        self.ids: dict[Stage, TaskID] = {}
        self.view = RunView()
        self.lock = threading.Lock()

    def on_progress(self, event: StageProgress) -> None:
        """Fold one progress report in and redraw its stage's bar."""
        with self.lock:
            self.view = fold(self.view, event)
            stage = self.view.stages[event.stage]
            if event.stage not in self.ids:
                self.ids[event.stage] = self.bars.add_task(event.stage, total=1, note="", count="")
            bar = self.ids[event.stage]
            total = max(stage.total, stage.shown_done, 1)
            count = f"{stage.shown_done}/{stage.total}" if stage.total else ""
            self.bars.update(bar, total=total, completed=stage.shown_done if stage.total else 0, note=event.message,
                             count=count)
            if stage.status == "running":
                self.bars.start_task(bar)
            elif stage.status in ("done", "degraded"):
                self.bars.update(bar, completed=total)
                self.bars.stop_task(bar)

    def __enter__(self) -> ProgressView:
        if self.enabled:
            for stage in Stage:
                self.ids[stage] = self.bars.add_task(stage, total=1, note="waiting", count="", start=False)
            self.bars.start()
            add_listener(self.on_progress)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self.enabled:
            remove_listener(self.on_progress)
            self.bars.stop()
