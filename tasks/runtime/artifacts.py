"""What a run shows in the Prefect UI: live progress, per-stage metrics, the storyboard and the video.

`RunTracker.start()` opens a run's reporting: a progress artifact (key `aura-progress`) that follows
the stages' progress reports as `tasks.runtime.progress.fold` adds them up; one Prefect
event per report (tasks/runtime/events.py); and the correlation id in the run's log lines
(tasks/runtime/correlation.py). `RunTracker.publish()` ends it: progress 100 %, a markdown table of the
per-stage metrics (`aura-metrics`), the storyboard (`aura-storyboard`) and a link to the video
(`aura-video`).

Prefect's image artifact shows a URL, and the UI prints that URL under the picture, so a storyboard
with no web server behind it is a markdown artifact that embeds the contact sheet as a `data:` JPEG.
Artifacts are for people; a failure to write one is logged and never fails the run.
"""

from __future__ import annotations

import base64
import io
import logging
import os
import re
import textwrap
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast
from uuid import UUID

import httpx
from PIL import Image, ImageDraw

from providers.media.fonts import font_for
from providers.remote.redaction import scrub
from tasks.cost import spent
from tasks.runtime.correlation import bind_correlation_id
from tasks.runtime.events import RunProgress, current_flow_run_id, emit_stage_event
from tasks.runtime.progress import STAGE_WEIGHTS, Progress, add_listener, remove_listener
from tasks.schemas import Providers, SceneImage, Script, StageMetrics, Video

__all__ = [
    "METRICS_KEY",
    "PROGRESS_KEY",
    "STORYBOARD_KEY",
    "VIDEO_KEY",
    "RunTracker",
    "SheetCell",
    "contact_sheet",
    "jpeg_data_uri",
    "metrics_markdown",
    "stage_costs",
    "storyboard_markdown",
    "video_markdown",
    "video_url",
]

PROGRESS_KEY = "aura-progress"
METRICS_KEY = "aura-metrics"
STORYBOARD_KEY = "aura-storyboard"
VIDEO_KEY = "aura-video"
API_JOB_TAG = "aura-api"  # the tag `aura serve` puts on its jobs (studio.jobs.API_TAG)
PUBLIC_URL_VAR = "AURA_PUBLIC_URL"  # the API's base URL, set by `aura serve` for the jobs it starts

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SheetCell:
    """One scene on the contact sheet: its image, its title and its caption."""

    image: Path
    title: str
    caption: str
    degraded: bool = False


def _fit_lines(draw: ImageDraw.ImageDraw, text: str, font: object, width: int, max_lines: int) -> list[str]:
    words, lines, line = text.split(), [], ""
    for word in words:
        candidate = f"{line} {word}".strip()
        if draw.textlength(candidate, font=font) <= width or not line:  # type: ignore[arg-type]
            line = candidate
        else:
            lines.append(line)
            line = word
    if line:
        lines.append(line)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1].rstrip(" .,;:") + "…"
    return lines


def contact_sheet(cells: Sequence[SheetCell], *, thumb_width: int | None = None, columns: int | None = None,
                  caption_lines: int = 2) -> Image.Image:
    """A grid of the scene images, each with its number, title and caption underneath."""
    if not cells:
        raise ValueError("a contact sheet needs at least one scene")
    with Image.open(cells[0].image) as first:
        aspect = first.height / first.width
    if thumb_width is None:
        thumb_width = (240 if aspect <= 1 else 150) if len(cells) <= 24 else (160 if aspect <= 1 else 110)
    thumb_height = max(1, round(thumb_width * aspect))
    columns = columns or max(1, min(len(cells), 5 if aspect <= 1 else 7))
    rows = -(-len(cells) // columns)
    pad, size = 10, 13
    text_height = (size + 4) * (1 + caption_lines) + 4
    size_px = (pad + columns * (thumb_width + pad), pad + rows * (thumb_height + text_height + pad))
    sheet = Image.new("RGB", size_px, (245, 245, 247))
    draw = ImageDraw.Draw(sheet)
    for i, cell in enumerate(cells):
        x = pad + (i % columns) * (thumb_width + pad)
        y = pad + (i // columns) * (thumb_height + text_height + pad)
        with Image.open(cell.image) as img:
            thumb = img.convert("RGB").resize((thumb_width, thumb_height), Image.Resampling.LANCZOS, reducing_gap=2.0)
        sheet.paste(thumb, (x, y))
        if cell.degraded:
            draw.rectangle((x, y, x + thumb_width - 1, y + thumb_height - 1), outline=(200, 120, 0), width=3)
        title = f"{i + 1}. {cell.title}"
        bold = font_for(title, size + 1)
        heading = _fit_lines(draw, title, bold, thumb_width, 1)
        draw.text((x, y + thumb_height + 4), heading[0] if heading else "", font=bold, fill=(20, 20, 28))
        regular = font_for(cell.caption, size)
        for j, line in enumerate(_fit_lines(draw, cell.caption, regular, thumb_width, caption_lines)):
            draw.text((x, y + thumb_height + 4 + (j + 1) * (size + 4)), line, font=regular, fill=(80, 80, 92))
    return sheet


def jpeg_data_uri(image: Image.Image, quality: int = 82) -> str:
    """`image` as a base64 JPEG `data:` URI, for embedding in a markdown artifact."""
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=quality, optimize=True)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _cell_text(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _inline(text: str) -> str:
    """`text` on one line with markdown's own characters escaped, so that it shows as written."""
    return re.sub(r"([\\`*_{}\[\]<>()#+!|])", r"\\\1", " ".join(text.split()))


def storyboard_markdown(title: str, cells: Sequence[SheetCell], sheet_uri: str) -> str:
    """The storyboard artifact: the contact sheet, then each scene's title and caption as a numbered list.

    Not a table: the Prefect UI draws markdown tables at their content's width with the scroll bar
    hidden, so a long caption column was cut off at the right; list items wrap to the page.
    """
    lines = [f"## Storyboard: {_inline(title)}", "", f"![Storyboard of {len(cells)} scenes]({sheet_uri})", ""]
    for i, cell in enumerate(cells, 1):
        note = " *(fallback card)*" if cell.degraded else ""
        lines.append(f"{i}. **{_inline(cell.title)}**{note}: {_inline(cell.caption)}")
    return "\n".join(lines) + "\n"


def video_url(flow_run_id: str, api_job: bool) -> str | None:
    """The API's download URL of this run's video when `aura serve` started it (AURA_PUBLIC_URL), else None."""
    base = os.environ.get(PUBLIC_URL_VAR, "").strip().rstrip("/")
    return f"{base}/api/videos/{flow_run_id}/download" if api_job and base.startswith(("http://", "https://")) else None


def video_markdown(video: Video) -> str:
    """The video artifact when no web server serves the file: where it is, as text (a file:// link opens nowhere)."""
    return (f"## {_inline(video.title)}\n\nThe video is at `{str(video.path.resolve()).replace('`', '')}` "
            f"on the machine that rendered it ({video.duration:.1f} s, {video.width}×{video.height}).\n")


def stage_costs(script: Script, pictures: Sequence[SceneImage], providers: Providers,
                metrics: Mapping[str, StageMetrics]) -> dict[str, float]:
    """US dollars each stage cost this run (a stage served from the cache cost nothing)."""
    cost = spent(script, pictures, providers)
    by_stage = {"llm": "script", "tts": "voice", "images": "visuals"}
    costs: dict[str, float] = {str(stage): 0.0 for stage in STAGE_WEIGHTS}
    for line in cost.lines:
        stage = by_stage[line.capability]
        cached = metrics.get(stage, StageMetrics()).cached
        costs[stage] = 0.0 if cached else line.usd
    return costs


def metrics_markdown(video: Video, metrics: Mapping[str, StageMetrics], costs: Mapping[str, float],
                     notes: Mapping[str, str], correlation_id: str) -> str:
    """The per-run metrics artifact: what was made, then one table row per stage."""
    mb = video.size_bytes / 1e6
    lines = [
        f"## {_cell_text(video.title)}",
        "",
        f"{video.duration:.1f} s · {video.width}×{video.height} · {video.fps:g} fps · "
        f"{video.scenes} scenes · {mb:.1f} MB · `{video.path}`",
        "",
        "| Stage | Seconds | Done | Failed | Retries | Peak MB | Provider | Est. USD | Note |",
        "|---|---:|---:|---:|---:|---:|---|---:|---|",
    ]
    for stage in [*STAGE_WEIGHTS, *(s for s in metrics if s not in STAGE_WEIGHTS)]:
        if stage not in metrics:
            continue
        m = metrics[stage]
        note = "; ".join(x for x in ("cached" if m.cached else "", notes.get(stage, "")) if x)
        lines.append(f"| {stage} | {m.seconds:.2f} | {m.items_done} | {m.items_failed} | {m.retries} | "
                     f"{m.peak_memory_mb:.0f} | {_cell_text(m.provider)} | {costs.get(stage, 0.0):.4f} | "
                     f"{_cell_text(note)} |")
    total_seconds = sum(m.seconds for m in metrics.values())
    peak = max((m.peak_memory_mb for m in metrics.values()), default=0.0)
    lines.append(f"| **total** | {total_seconds:.2f} | | {sum(m.items_failed for m in metrics.values())} | "
                 f"{sum(m.retries for m in metrics.values())} | {peak:.0f} | | {sum(costs.values()):.4f} | |")
    lines += ["", f"Job `{video.job_key}` · correlation id `{correlation_id}`"]
    return "\n".join(lines) + "\n"


def _relay(tracker: RunTracker) -> Callable[[Progress], None]:
    """A listener that holds the tracker weakly and unregisters itself once the run is gone."""
    ref = weakref.ref(tracker)

    def listener(event: Progress) -> None:
        target = ref()
        if target is None:
            remove_listener(listener)
        else:
            target.on_progress(event)

    return listener


class RunTracker:
    """One flow run's progress artifact, stage events and correlation id."""

    def __init__(self, flow_run_id: str, correlation_id: str, attempt: int = 1) -> None:
        self.flow_run_id = flow_run_id
        self.correlation_id = correlation_id
        self.attempt = attempt
        self.api_job = False  # started by `aura serve`: the video has a download URL there
        self.progress = RunProgress()
        self.notes: dict[str, str] = {}
        self.artifact_id: UUID | None = None
        self._shown = -1.0
        self._lock = threading.Lock()
        self._shown_lock = threading.Lock()
        self._listener = _relay(self)

    @classmethod
    def start(cls) -> RunTracker:
        """Open reporting for the current flow run: progress artifact at 0 %, events, log correlation."""
        from prefect.artifacts import create_progress_artifact
        from prefect.context import FlowRunContext

        ctx = FlowRunContext.get()
        if ctx is None or ctx.flow_run is None:
            raise RuntimeError("RunTracker.start() must be called inside a flow run")
        flow_run_id = str(ctx.flow_run.id)
        tracker = cls(flow_run_id, bind_correlation_id(flow_run_id, ctx.flow_run.tags), max(1, ctx.flow_run.run_count))
        tracker.api_job = API_JOB_TAG in (ctx.flow_run.tags or [])
        try:
            created = create_progress_artifact(0.0, key=PROGRESS_KEY, description="0 % · start")
            tracker.artifact_id = cast(UUID, created)  # a sync flow gets the sync variant
        except httpx.HTTPError as exc:
            logger.warning("could not create the progress artifact: %s", exc)
        add_listener(tracker._listener)
        return tracker

    def on_progress(self, event: Progress) -> None:
        """Count a report of this run: emit its event and move the progress artifact."""
        if current_flow_run_id() != self.flow_run_id:
            return
        with self._lock:  # the numbering and the emitting in one order: readers sort by (attempt, seq)
            percentage = self.progress.update(event)
            place = (self.attempt, self.progress.seq)
            emit_stage_event(event, percentage, self.flow_run_id, self.correlation_id, place)
        if event.state in ("degraded", "failed") and event.message:
            self.notes[event.stage] = event.message
        self._show(percentage, f"{event.stage}: {event.message}" if event.message else event.stage)

    def _show(self, percentage: float, description: str) -> None:
        from prefect.artifacts import update_progress_artifact

        with self._shown_lock:
            if self.artifact_id is None or (int(percentage) <= int(self._shown) and percentage < 100):
                return
            self._shown = percentage
            try:
                update_progress_artifact(self.artifact_id, percentage,
                                         description=f"{percentage:.0f} % · {description}")
            except httpx.HTTPError as exc:
                logger.warning("could not update the progress artifact: %s", exc)

    def publish(self, video: Video, script: Script, pictures: Sequence[SceneImage], providers: Providers,
                metrics: Mapping[str, StageMetrics]) -> None:
        """Close the run's reporting: progress 100 %, metrics table, storyboard, link to the video."""
        from prefect.artifacts import create_link_artifact, create_markdown_artifact
        from prefect.logging import get_run_logger

        remove_listener(self._listener)
        self._show(100.0, f"Done: {video.title}")
        by_index = {p.index: p for p in pictures}
        cells = [
            SheetCell(
                by_index[i].poster or by_index[i].path, s.title, textwrap.shorten(s.narration, 400),
                by_index[i].degraded,
            )
            for i, s in enumerate(script.scenes) if i in by_index
        ]
        costs = stage_costs(script, pictures, providers, metrics)
        try:
            create_markdown_artifact(  # its notes quote failures: scrubbed like every log record
                scrub(metrics_markdown(video, metrics, costs, self.notes, self.correlation_id)), key=METRICS_KEY,
                description=f"Per-stage metrics of {video.title}")
            if cells:
                sheet = jpeg_data_uri(contact_sheet(cells))
                create_markdown_artifact(
                    storyboard_markdown(script.title, cells, sheet), key=STORYBOARD_KEY,
                    description=f"Storyboard: {len(cells)} scenes")
            url = video_url(self.flow_run_id, self.api_job)
            if url:
                create_link_artifact(
                    url, link_text=f"{video.title} ({video.path.name})", key=VIDEO_KEY,
                    description=f"{video.duration:.1f} s, {video.width}×{video.height}")
            else:
                create_markdown_artifact(video_markdown(video), key=VIDEO_KEY,
                                         description=f"{video.duration:.1f} s, {video.width}×{video.height}")
        except httpx.HTTPError as exc:
            logger.warning("could not write the run's artifacts: %s", exc)
        # the last line of the run's log says where the video is: `prefect deployment run --watch` shows it
        get_run_logger().info("Video: %s", video.path.resolve())
