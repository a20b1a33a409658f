"""Per-stage figures: wall time, peak memory (this process and its children), items, retries."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import psutil

from tasks.runtime.progress import report
from tasks.runtime.retry import retry_count
from tasks.schemas import StageMetrics

__all__ = ["StageMeter"]


def _rss_mb() -> float:
    proc = psutil.Process()
    total = proc.memory_info().rss
    for child in proc.children(recursive=True):
        try:
            total += child.memory_info().rss
        except psutil.Error:
            continue
    return total / 2**20


@dataclass
class _Open:
    provider: str
    started: float
    retries_before: int
    task_names: tuple[str, ...]
    peak: float = 0.0


@dataclass
class StageMeter:
    """Times stages and samples memory while any stage is open."""

    interval: float = 0.1
    results: dict[str, StageMetrics] = field(default_factory=dict)
    _open: dict[str, _Open] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _sampler: threading.Thread | None = None

    def _sample(self) -> None:
        while True:
            with self._lock:
                if not self._open:
                    self._sampler = None
                    return
                stages = list(self._open.values())
            rss = _rss_mb()
            for stage in stages:
                stage.peak = max(stage.peak, rss)
            time.sleep(self.interval)

    def start(self, stage: str, provider: str, *task_names: str) -> None:
        """Open `stage`; its figures count from now."""
        report(stage, 0, 1, f"{stage} started", "started")
        opened = _Open(provider, time.perf_counter(), sum(retry_count(t) for t in task_names), task_names, _rss_mb())
        with self._lock:
            self._open[stage] = opened
            if self._sampler is None:
                self._sampler = threading.Thread(target=self._sample, name="aura-memory", daemon=True)
                self._sampler.start()

    def finish(self, stage: str, states: Iterable[Any] = (), failed: int = 0,
               degraded: str | None = None) -> StageMetrics:
        """Close `stage` given the final Prefect states of its task runs, and why it fell back, if it did."""
        with self._lock:
            opened = self._open.pop(stage)
        states = list(states)
        done = sum(1 for s in states if getattr(s, "is_completed", lambda: True)())
        cached = bool(states) and all(getattr(s, "name", "") == "Cached" for s in states)
        metrics = StageMetrics(
            seconds=round(time.perf_counter() - opened.started, 3),
            items_done=done,
            items_failed=failed + len(states) - done,
            retries=sum(retry_count(t) for t in opened.task_names) - opened.retries_before,
            peak_memory_mb=round(max(opened.peak, _rss_mb()), 1),
            provider=opened.provider,
            cached=cached,
            degraded=degraded,
        )
        self.results[stage] = metrics
        if degraded:
            report(stage, done, max(1, len(states)), f"{stage} fell back: {degraded}", "degraded")
        else:
            report(stage, done, max(1, len(states)), f"{stage} finished in {metrics.seconds:.1f} s", "finished")
        return metrics

    def degraded(self) -> dict[str, str]:
        """Stages that fell back, and why."""
        return {stage: m.degraded for stage, m in self.results.items() if m.degraded}
