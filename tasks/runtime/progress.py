"""Progress: the stages report, one pure fold turns reports into where a run stands.

A report is `Progress(stage, done, total, message, state)`: `stage` is a `Stage`, `state` a
`ReportState`, and "item" means one more item of `total` is done. Reports reach listeners in this
process (`report` → `add_listener`); tasks/runtime/events.py sends each one as the Prefect event
`aura.stage.<state>` of the flow run. Everything that shows progress folds the same reports with
`fold`: the CLI's bars (studio/progress_view.py), the progress artifact in the Prefect UI
(tasks/runtime/artifacts.py) and the API's event stream (studio/jobs.py, studio/sse.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from types import MappingProxyType
from typing import Literal, get_args

__all__ = [
    "REPORT_STATES",
    "STAGE_WEIGHTS",
    "Progress",
    "ReportState",
    "RunView",
    "Stage",
    "StageStatus",
    "StageView",
    "add_listener",
    "fold",
    "fold_all",
    "remove_listener",
    "report",
]


class Stage(StrEnum):
    """The pipeline's stages, in order (DESIGN.md's stage table)."""

    BRIEF = "brief"
    SCRIPT = "script"
    VOICE = "voice"
    VISUALS = "visuals"
    COMPOSITION = "composition"


ReportState = Literal["started", "running", "item", "finished", "degraded", "failed"]
REPORT_STATES: tuple[ReportState, ...] = get_args(ReportState)
StageStatus = Literal["waiting", "running", "done", "degraded", "failed"]

# share of the whole run each stage accounts for, in percent
STAGE_WEIGHTS: Mapping[Stage, int] = MappingProxyType(
    {Stage.BRIEF: 5, Stage.SCRIPT: 20, Stage.VOICE: 25, Stage.VISUALS: 30, Stage.COMPOSITION: 20})

_MESSAGE_LIMIT = 300


@dataclass(frozen=True)
class Progress:
    """A stage's report: `done` of `total` items, a short message, and when (`at`, epoch seconds) if known."""

    stage: Stage
    done: int
    total: int
    message: str = ""
    state: ReportState = "running"
    at: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "stage", Stage(self.stage))  # a plain "voice" is accepted, a typo is not
        if self.state not in REPORT_STATES:
            raise ValueError(f"unknown progress state {self.state!r}")

    @property
    def fraction(self) -> float:
        """Share of this stage that is done, 0 to 1."""
        return 1.0 if self.total <= 0 else min(1.0, self.done / self.total)


@dataclass(frozen=True)
class StageView:
    """Where one stage stands."""

    status: StageStatus = "waiting"
    done: int = 0
    total: int = 0

    @property
    def fraction(self) -> float:
        """Share of the stage that is done, 0 to 1."""
        if self.status in ("done", "degraded"):
            return 1.0
        return min(1.0, self.done / self.total) if self.total > 0 else 0.0

    @property
    def shown_done(self) -> int:
        """Items to show as done: all of them once the stage has ended."""
        return max(self.done, self.total) if self.status in ("done", "degraded") else self.done


def _waiting() -> Mapping[Stage, StageView]:
    return MappingProxyType({stage: StageView() for stage in Stage})


@dataclass(frozen=True)
class RunView:
    """Where a run stands after some reports: per stage, overall (never going down), and timing."""

    stages: Mapping[Stage, StageView] = field(default_factory=_waiting)
    percentage: float = 0.0
    current: Stage | None = None
    message: str = ""
    count: int = 0
    first_at: float | None = None
    last_at: float | None = None

    @property
    def elapsed(self) -> float:
        """Seconds between the first and the last report."""
        return round(self.last_at - self.first_at, 1) if self.first_at is not None and self.last_at is not None else 0.0

    @property
    def live_percentage(self) -> float:
        """The percentage while the run is still going: 100 is kept for the finished video."""
        return min(99.0, self.percentage)

    @property
    def eta(self) -> float | None:
        """Seconds left, extrapolated from the time so far; None until there is something to go by."""
        share = self.live_percentage
        if share < 1 or self.elapsed <= 0:
            return None
        return round(self.elapsed * (100 - share) / share, 1)


def _stage_after(stage: StageView, report: Progress) -> StageView:
    """One stage after one of its reports."""
    running: StageStatus = "running" if stage.status == "waiting" else stage.status
    if report.state == "started":
        return replace(stage, status="running")
    if report.state == "item":
        total = max(stage.total, report.total)
        return StageView(running, min(stage.done + 1, total) if total else stage.done + 1, total)
    if report.state in ("finished", "degraded"):
        status: StageStatus = "done" if report.state == "finished" else "degraded"
        return StageView(status, max(stage.done, report.done), max(stage.total, report.total, stage.done, report.done))
    if report.state == "failed":
        return replace(stage, status="failed")
    total = max(stage.total, report.total)  # running: a note, maybe with counts that never move back
    return StageView(running, max(stage.done, min(report.done, total or report.done)), total)


def fold(view: RunView, report: Progress) -> RunView:
    """The run after one more report (pure: `view` is not changed)."""
    stages = dict(view.stages)
    stages[report.stage] = _stage_after(stages[report.stage], report)
    overall = round(min(100.0, sum(STAGE_WEIGHTS[s] * stages[s].fraction for s in Stage)), 1)
    at = report.at
    return RunView(
        stages=MappingProxyType(stages),
        percentage=max(view.percentage, overall),
        current=report.stage,
        message=report.message[:_MESSAGE_LIMIT],
        count=view.count + 1,
        first_at=view.first_at if view.first_at is not None else at,
        last_at=at if at is not None else view.last_at,
    )


def fold_all(reports: Iterable[Progress], view: RunView | None = None) -> RunView:
    """The run after all `reports`, in order."""
    view = view or RunView()
    for one in reports:
        view = fold(view, one)
    return view


Listener = Callable[[Progress], None]
_listeners: list[Listener] = []
_lock = threading.Lock()


def add_listener(listener: Listener) -> None:
    """Call `listener` for every progress report in this process."""
    with _lock:
        _listeners.append(listener)


def remove_listener(listener: Listener) -> None:
    """Stop calling `listener`."""
    with _lock:
        if listener in _listeners:
            _listeners.remove(listener)


def report(stage: Stage | str, done: int, total: int, message: str = "", state: ReportState = "running") -> None:
    """Tell every listener how far `stage` is."""
    import time

    event = Progress(Stage(stage), done, total, message, state, time.time())
    with _lock:
        listeners = list(_listeners)
    for listener in listeners:
        listener(event)
