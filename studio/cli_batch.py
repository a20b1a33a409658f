"""`aura batch FILE`: one video per brief of a YAML or CSV file, a few at a time, one live line per video."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

__all__ = ["BatchView", "batch_command", "register"]

err = Console(stderr=True)


class BatchView:
    """One line per video: its status, the stage it is in, and how long it has run."""

    def __init__(self, labels: dict[int, str]) -> None:
        self.labels = labels
        self.status = {index: "waiting" for index in labels}
        self.stage = {index: "" for index in labels}
        self.started: dict[int, float] = {}
        self.ended: dict[int, float] = {}
        self.lock = threading.Lock()

    def on_item(self, index: int, status: str) -> None:
        """A brief started rendering or ended (a plain line each when stderr is no terminal)."""
        if not err.is_terminal:
            err.print(f"{index:>3} {self.labels[index][:40]}: {status}", markup=False, highlight=False, soft_wrap=True)
        with self.lock:
            self.status[index] = status
            if status == "rendering":
                self.started[index] = time.monotonic()
            else:
                self.ended[index] = time.monotonic()
                self.stage[index] = ""

    def on_progress(self, event: Any) -> None:
        """A stage report from one of the batch's flow runs (found by the run's tag)."""
        from prefect.context import FlowRunContext

        from flows.batch import item_tag

        context = FlowRunContext.get()
        run_tags = set(context.flow_run.tags) if context is not None and context.flow_run is not None else set()
        for index in self.labels:
            if item_tag(index) in run_tags:
                with self.lock:
                    self.stage[index] = f"{event.stage} {event.done}/{event.total}" if event.total > 1 else event.stage
                return

    def __rich__(self) -> Table:
        table = Table(box=None, show_header=False, pad_edge=False)
        now = time.monotonic()
        with self.lock:
            for index, label in self.labels.items():
                began = self.started.get(index)
                seconds = f"{self.ended.get(index, now) - began:5.1f} s" if began is not None else ""
                table.add_row(f"{index:>3}", label[:40], self.status[index][:70], self.stage[index], seconds)
        return table


def summary_table(summary: Any) -> Table:
    """The batch's closing table: video, duration, status, time, cost."""
    table = Table(title=f"{len(summary.items) - summary.failed} of {len(summary.items)} videos "
                        f"in {summary.seconds:.1f} s")
    for column in ("#", "video", "duration", "status", "time", "cost"):
        table.add_column(column, overflow="fold")
    for row in summary.rows():
        table.add_row(*row.values())
    return table


def _say_cancelled() -> None:
    err.print("cancelled: run the same command again to render what is missing", soft_wrap=True)


def batch_command(
    file: Annotated[Path, typer.Argument(help="A YAML, JSON, CSV or text file of briefs (fields as the CLI's).")],
    concurrency: Annotated[int, typer.Option(
        help="Videos rendered at once (Prefect's aura-batch limit). (default: AURA_BATCH_CONCURRENCY or 2)",
        show_default=False)] = 0,
    resolution: Annotated[str | None, typer.Option(help="Default frame size for every brief, e.g. 360p.")] = None,
    fps: Annotated[int | None, typer.Option(help="Default frames per second.")] = None,
    quality: Annotated[str | None, typer.Option(help="Default encoder effort: draft, standard or high.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as one JSON object on stdout.")] = False,
) -> None:
    """Render one video per brief of FILE; run it again to render only what is still missing."""
    from pydantic import ValidationError

    from studio.cli import _connect, _fail, _quiet_prefect, _wait_connected
    from tasks.playlist import load_batch
    from tasks.preflight import BriefError
    from tasks.schemas import RenderSpec

    try:
        render = RenderSpec(**{k: v for k, v in {"resolution": resolution, "fps": fps, "quality": quality}.items()
                               if v is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        raise _fail(f"--{first['loc'][0]}: {first['msg']}") from None
    from providers.settings import get_settings
    from tasks.schemas import Providers

    settings = get_settings()
    providers = Providers(llm=settings.llm, tts=settings.tts, images=settings.images, renderer=settings.renderer)
    try:  # the file is read here first, so that a bad file fails in a second, before any server
        items = load_batch(file, render, providers, settings.home.expanduser() / "videos")
    except BriefError as exc:
        raise _fail(str(exc)) from None
    _connect()
    _quiet_prefect()
    from flows.batch import make_batch, watch_items
    from tasks.runtime.cancellation import cancelled_by_signals, children_die_with_me
    from tasks.runtime.progress import add_listener, remove_listener

    children_die_with_me()
    _wait_connected()
    view = BatchView({item.index: item.label for item in items})
    watch_items(view.on_item)
    add_listener(view.on_progress)
    try:
        with cancelled_by_signals(_say_cancelled), Live(view, console=err, refresh_per_second=2, transient=True,
                                                         auto_refresh=err.is_terminal):
            summary = make_batch(briefs_file=str(file), render=render, providers=providers, concurrency=concurrency)
    finally:
        watch_items(view.on_item, remove=True)
        remove_listener(view.on_progress)
    if as_json:
        sys.stdout.write(summary.model_dump_json() + "\n")
    err.print(summary_table(summary))
    if summary.failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add `aura batch` to the `aura` command."""
    app.command(name="batch")(batch_command)
