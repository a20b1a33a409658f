"""Many videos at once: one `make-video` flow run per brief, at most N at a time, and a summary table."""

# no `from __future__ import annotations`: Prefect builds the run form from the signature

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prefect import flow, tags, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import get_client
from prefect.concurrency.sync import concurrency
from prefect.futures import wait
from prefect.task_runners import ThreadPoolTaskRunner
from pydantic import BaseModel, ConfigDict, Field

from flows.make_video import make_video
from providers.settings import get_settings
from tasks.playlist import BatchItem, batch_item, load_batch
from tasks.schemas import Providers, RenderSpec, Video

__all__ = [
    "LIMIT", "BatchSummary", "ItemResult", "item_tag", "make_batch", "render_item", "set_limit", "watch_items",
]

LIMIT = "aura-batch"  # the Prefect global concurrency limit every batch (and the daily deployment) shares
MAX_THREADS = 64  # threads of a batch; the concurrency limit, not this, decides how many render at once


class ItemResult(BaseModel):
    """How one brief of a batch ended."""

    model_config = ConfigDict(frozen=True)

    index: int
    label: str
    status: str = Field(description="rendered, done earlier, failed or invalid")
    message: str = ""
    seconds: float = 0.0
    video: Video | None = None
    out: str = ""

    @property
    def ok(self) -> bool:
        """It has its video."""
        return self.status in ("rendered", "done earlier")


class BatchSummary(BaseModel):
    """Every brief of a batch and how it ended, in the batch's order."""

    model_config = ConfigDict(frozen=True)

    items: tuple[ItemResult, ...]
    seconds: float

    @property
    def failed(self) -> int:
        """How many briefs have no video."""
        return sum(not item.ok for item in self.items)

    def rows(self) -> list[dict[str, str]]:
        """The summary table: video, duration, status, time, cost."""
        return [{
            "#": str(item.index), "video": Path(item.out).name if item.out else item.label,
            "duration": f"{item.video.duration:.1f} s" if item.video else "",
            "status": item.status + (f": {item.message}" if item.message else ""),
            "time": f"{item.seconds:.1f} s" if item.status == "rendered" else "",
            "cost": f"${item.video.cost_usd or 0:.4f}" if item.video else "",
        } for item in self.items]


_watchers: list[Callable[[int, str], None]] = []
_watch_lock = threading.Lock()


def watch_items(watcher: Callable[[int, str], None] | None, remove: bool = False) -> None:
    """Call `watcher(index, status)` in this process as each brief starts rendering and ends (a CLI's view)."""
    with _watch_lock:
        if remove and watcher in _watchers:
            _watchers.remove(watcher)
        elif not remove and watcher is not None:
            _watchers.append(watcher)


def _tell(index: int, status: str) -> None:
    with _watch_lock:
        watchers = list(_watchers)
    for watcher in watchers:
        watcher(index, status)


def item_tag(index: int) -> str:
    """The tag of the flow run that renders brief `index` (front doors follow its progress with it)."""
    return f"aura-batch-item-{index}"


def _finished(item: BatchItem, status: str, started: float, message: str = "",
              video: Video | None = None) -> ItemResult:
    _tell(item.index, status + (f": {message}" if message else ""))
    return ItemResult(index=item.index, label=item.label, status=status, message=message, video=video,
                      seconds=round(time.perf_counter() - started, 2), out=item.out)


@task(name="render_item", cache_policy=NO_CACHE)
def render_item(item: BatchItem) -> ItemResult:
    """Render one brief as its own `make-video` flow run once the batch limit gives it a slot."""
    started = time.perf_counter()
    if item.error is not None:
        return _finished(item, "invalid", started, item.error)
    if item.done:
        return _finished(item, "done earlier", started)
    with concurrency(LIMIT, occupy=1, strict=True), tags(item_tag(item.index)):
        started = time.perf_counter()
        _tell(item.index, "rendering")
        state = make_video(**item.parameters(), return_state=True)
    made = state.result(raise_on_failure=False) if state.is_completed() else None
    if isinstance(made, Video):
        return _finished(item, "rendered", started, video=made)
    outcome = state.result(raise_on_failure=False)
    reason = str(outcome) if isinstance(outcome, BaseException) else (state.message or state.name or "failed")
    return _finished(item, "failed", started, reason.splitlines()[0][:300])


def set_limit(slots: int) -> None:
    """Create or resize the shared `aura-batch` limit: at most `slots` videos render at once."""
    with get_client(sync_client=True) as client:
        client.upsert_global_concurrency_limit_by_name(LIMIT, slots)


@flow(name="make-batch", task_runner=ThreadPoolTaskRunner(max_workers=MAX_THREADS),  # type: ignore[arg-type]
      validate_parameters=True)
def make_batch(
    briefs_file: str = "",
    briefs: list[dict[str, Any]] | None = None,
    render: RenderSpec = RenderSpec(),  # noqa: B008 - frozen model, safe as a default
    providers: Providers = Providers(),  # noqa: B008
    concurrency: int = 0,
    max_videos: int = 0,
) -> BatchSummary:
    """Render every brief of a batch that has no video yet, each as its own flow run, a few at a time.

    Args:
        briefs_file: A YAML, JSON, CSV or text file of briefs in the CLI's words (topic, duration, voice...).
        briefs: Briefs given inline, before those of the file; each a mapping of the same fields, or a topic.
        render: How every video is encoded, unless a brief says otherwise.
        providers: Which providers every video uses, unless a brief says otherwise.
        concurrency: Videos rendered at once (the `aura-batch` limit); 0: AURA_BATCH_CONCURRENCY.
        max_videos: Render at most this many of the missing videos (0: all), as the daily deployment does.
    """
    started = time.perf_counter()
    settings = get_settings()
    videos = settings.home.expanduser() / "videos"
    items = [batch_item(i, row if isinstance(row, dict) else {"topic": row}, render, providers, videos)
             for i, row in enumerate(briefs or [], 1)]
    if briefs_file:
        items += [item.model_copy(update={"index": len(items) + item.index})
                  for item in load_batch(Path(briefs_file), render, providers, videos)]
    set_limit(concurrency or settings.batch_concurrency)
    if max_videos:
        missing = [item for item in items if item.error is None and not item.done][:max_videos]
        items = missing
    results = [render_item.submit(item) for item in items]
    wait(results)
    summary = BatchSummary(items=tuple(r.result() for r in results), seconds=round(time.perf_counter() - started, 2))
    if summary.items:
        create_table_artifact(key="aura-batch", table=summary.rows(),
                              description=f"{len(summary.items) - summary.failed} of {len(summary.items)} videos")
    return summary
