"""The `aura` command: generate a video from a brief, with live progress on stderr."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console

from studio.progress_view import ProgressView

__all__ = ["app", "main"]

app = typer.Typer(
    add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
    help="Aura: brief → narrated, captioned MP4.",
)
err = Console(stderr=True)

EXAMPLE_TOPIC = "How honeybees communicate"
EXAMPLE_GOAL = "explain the waggle dance and how bees share where food is"

# CLI option names for the model fields, so that errors name what the user typed
_OPTION_FOR = {
    "topic": "TOPIC", "duration": "--duration", "aspect": "--aspect", "audience": "--audience",
    "goal": "--goal", "tone": "--tone", "language": "--language", "pacing": "--pacing", "density": "--density",
    "visual_style": "--style", "resolution": "--resolution", "fps": "--fps", "quality": "--quality",
    "preset": "--preset", "music": "--music", "caption_style": "--caption-style", "references": "--reference",
}


class UsageError(Exception):
    """Bad input on the command line; the message says what to fix."""


def _explain(exc: ValidationError) -> str:
    first = exc.errors()[0]
    field = str(first["loc"][0]) if first["loc"] else "input"
    option = _OPTION_FOR.get(field, field)
    value = first.get("input")
    shown = f" (got {value!r})" if value is not None and not isinstance(value, dict) else ""
    message = first["msg"].removeprefix("Value error, ")
    if field == "topic" and first["type"] == "string_too_short":
        message, shown = "the topic is empty: say what the video is about", ""
    return f"{option}: {message}{shown}"


def _build(values: dict[str, Any]) -> tuple[Any, Any, Any, str]:
    """Validate the options into (Brief, RenderSpec, Providers, output path) or raise UsageError."""
    from tasks.preflight import BriefError, check_output_path
    from tasks.schemas import Brief, Providers, RenderSpec

    try:
        brief = Brief(**{k: v for k, v in values["brief"].items() if v is not None})
        render = RenderSpec(**{k: v for k, v in values["render"].items() if v is not None})
        providers = Providers(**{k: v for k, v in values["providers"].items() if v is not None})
    except ValidationError as exc:
        raise UsageError(_explain(exc)) from exc
    out = ""
    if values["out"] is not None:
        try:
            out = str(check_output_path(values["out"]))
        except BriefError as exc:
            raise UsageError(f"--out: {exc}") from exc
    return brief, render, providers, out


def _quiet_prefect() -> None:
    """Keep Prefect's own log lines off the terminal; the progress view and errors say what matters."""
    import logging

    for name in ("prefect", "prefect.flow_runs", "prefect.task_runs", "prefect.server"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def _summary(video: Any) -> None:
    err.print(f"[bold green]✓[/] {video.title}: {video.duration:.1f} s, {video.width}×{video.height}, "
              f"{video.scenes} scenes, {video.size_bytes / 1e6:.1f} MB")
    for stage, m in video.metrics.items():
        note = " (cached)" if m.cached else ""
        err.print(f"  {stage:<12} {m.seconds:7.2f} s  {m.items_done:>3} done  {m.provider}{note}", highlight=False)
    err.print(f"  captions     {video.srt}", highlight=False)
    if video.cost_usd:
        err.print(f"  cost         ${video.cost_usd:.4f} (estimated ${video.estimated_cost_usd or 0:.4f})")
    for stage, reason in video.degraded.items():
        err.print(f"[yellow]degraded[/] {stage}: {reason}", soft_wrap=True)


def _run(values: dict[str, Any], as_json: bool, verbose: bool) -> None:
    try:
        brief, render, providers, out = _build(values)
    except UsageError as exc:
        err.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    if not verbose:
        _quiet_prefect()
    import signal
    import threading
    import time

    from flows.make_video import make_video
    from providers.errors import AuraError
    from providers.media.process import kill_all_children
    from tasks.runtime.cancellation import children_stopped_on_interrupt

    grace = 5.0  # seconds Prefect gets to record the run as crashed and wind down before we leave anyway
    cancelling = threading.Event()
    cancel_lock = threading.Lock()
    handled: list[int] = []  # Ctrl-Cs (and SIGTERMs) the main thread has seen
    exit_code = [130]  # 128 + the signal that stopped the run: 130 for Ctrl-C, 143 for SIGTERM
    said = threading.Lock()

    def say_cancelled() -> None:
        if said.acquire(blocking=False):
            err.print("cancelled: no video was written; run the same command again to resume", soft_wrap=True)

    def leave() -> None:
        """Stop every child process (ffmpeg, the temporary API server) and exit 130 now."""
        import psutil

        kill_all_children()
        children = psutil.Process().children(recursive=True)
        for child in children:
            try:
                child.terminate()
            except psutil.Error:
                continue
        for child in psutil.wait_procs(children, timeout=2)[1]:
            try:
                child.kill()
            except psutil.Error:
                continue
        say_cancelled()
        sys.stderr.flush()
        os._exit(exit_code[0])

    def leave_after(seconds: float) -> None:
        # Prefect marks the run crashed and winds its threads down; when it cannot (Ctrl-C in a terminal
        # also stops the temporary API server it reports to) it would retry for minutes: leave instead
        import psutil

        def alive(proc: psutil.Process) -> bool:
            try:
                return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
            except psutil.Error:
                return False

        servers = []  # the temporary API server Prefect started for this run, if any
        for child in psutil.Process().children():
            try:
                if "prefect.server" in " ".join(child.cmdline()):
                    servers.append(child)
            except psutil.Error:
                continue
        time.sleep(0.5)  # the stopped ffmpeg's tasks remove their temporary files
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not (servers and not any(alive(s) for s in servers)):
            time.sleep(0.1)
        leave()

    def begin_cancel(number: int) -> None:
        """Called from a helper thread as soon as Ctrl-C or SIGTERM arrives (ffmpeg is already being killed)."""
        with cancel_lock:
            if number not in (signal.SIGINT, signal.SIGTERM) or cancelling.is_set():
                return
            cancelling.set()
            exit_code[0] = 128 + number
        threading.Thread(target=leave_after, args=(grace,), name="aura-cancel", daemon=True).start()

    def on_interrupt(signum: int, _frame: Any) -> None:
        # no locks here (the interrupted code may hold them): the work happens in threads
        if handled:  # a second Ctrl-C does not wait
            threading.Thread(target=leave, name="aura-cancel-now", daemon=True).start()
            return
        handled.append(signum)
        threading.Thread(target=begin_cancel, args=(signum,), daemon=True).start()
        raise KeyboardInterrupt

    # SIGTERM (kill, systemd, a container stopping) is a cancel too: by default Python would die at
    # once and leave Prefect's temporary API server running

    view = ProgressView(err, enabled=not verbose)
    previous = signal.signal(signal.SIGINT, on_interrupt)
    previous_term = signal.signal(signal.SIGTERM, on_interrupt)
    try:
        # ffmpeg is killed the moment Ctrl-C arrives, whichever thread the kernel hands it to
        with view, children_stopped_on_interrupt(on_signal=begin_cancel):
            video = make_video(brief=brief, render=render, providers=providers, out=out, budget=values.get("budget"))
    except KeyboardInterrupt:
        kill_all_children()
        say_cancelled()
        raise typer.Exit(exit_code[0]) from None
    except AuraError as exc:
        if cancelling.is_set():  # a stage that failed because Ctrl-C stopped its ffmpeg
            say_cancelled()
            raise typer.Exit(exit_code[0]) from None
        err.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    finally:
        if not cancelling.is_set():
            signal.signal(signal.SIGINT, previous)
            signal.signal(signal.SIGTERM, previous_term)
    if as_json:
        sys.stdout.write(video.model_dump_json() + "\n")
    else:
        _summary(video)
        print(video.path)


@app.command()
def generate(
    topic: Annotated[str, typer.Argument(help="What the video is about, e.g. 'How honeybees communicate'.")],
    duration: Annotated[float, typer.Option(help="Target length in seconds (10 to 1800).")] = 60.0,
    aspect: Annotated[str, typer.Option(help="Frame shape: 16:9, 9:16 or 1:1.")] = "16:9",
    out: Annotated[Path | None, typer.Option(help="Output .mp4 (default: under AURA_HOME/videos).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as one JSON object on stdout.")] = False,
    audience: Annotated[str | None, typer.Option(help="Who will watch it.")] = None,
    goal: Annotated[str | None, typer.Option(help="What viewers should know or do afterwards.")] = None,
    tone: Annotated[str | None, typer.Option(help="Tone of the narration, e.g. friendly, formal.")] = None,
    language: Annotated[str | None, typer.Option(help="Narration language code, e.g. en, de, fr.")] = None,
    pacing: Annotated[str | None, typer.Option(help="chill, conversational or fast.")] = None,
    density: Annotated[str | None, typer.Option(help="sparse, balanced or dense (scenes per minute).")] = None,
    style: Annotated[str | None, typer.Option(help="Visual style words for the images.")] = None,
    resolution: Annotated[str | None, typer.Option(help="720p or 1080p.")] = None,
    fps: Annotated[int | None, typer.Option(help="24, 25, 30 or 60 frames per second.")] = None,
    quality: Annotated[str | None, typer.Option(help="draft, standard or high.")] = None,
    captions: Annotated[bool, typer.Option("--captions/--no-captions", help="Burn in captions.")] = True,
    motion: Annotated[bool, typer.Option("--motion/--no-motion", help="Slow zoom on each image.")] = True,
    llm: Annotated[str | None, typer.Option(help="Script writer: local, openai:MODEL, ollama:MODEL.")] = None,
    voice: Annotated[str | None, typer.Option(
        help="Voice: local, espeak:VOICE, elevenlabs:VOICE_ID, openai:MODEL.")] = None,
    images: Annotated[str | None, typer.Option(help="Images: local, diffusers:MODEL_OR_PATH, openai:MODEL.")] = None,
    renderer: Annotated[str | None, typer.Option(help="Renderer: ffmpeg (default) or moviepy.")] = None,
    verbose: Annotated[bool, typer.Option(
        "--verbose", "-v", help="Show Prefect's logs instead of progress bars.")] = False,
    preset: Annotated[str | None, typer.Option(
        help="youtube-1080p, shorts (1080x1920 for Shorts/TikTok/Reels), square, draft-720p or 4k (H.265); "
             "sets the frame size and shape instead of --resolution and --aspect.")] = None,
    music: Annotated[Path | None, typer.Option(
        exists=True, dir_okay=False, help="Background music file: looped or trimmed, ducked under the voice.")] = None,
    caption_style: Annotated[str | None, typer.Option(
        help="phrase (a phrase at a time) or karaoke (word by word, the spoken word highlighted).")] = None,
    reference: Annotated[list[Path] | None, typer.Option(
        exists=True, dir_okay=False, help="A text file of reference material for the script (repeatable).")] = None,
    budget: Annotated[float | None, typer.Option(help="Most USD the run may cost; refused before it starts.")] = None,
    profile: Annotated[str | None, typer.Option(
        help="default, debug (long timeouts, temp files kept, verbose) or quick-demo (short timeouts, "
             "one retry, template script if the LLM's fails).")] = None,
) -> None:
    """Render a narrated, captioned MP4 from a topic or a short brief."""
    from providers.settings import get_settings
    from tasks.render_presets import PRESETS
    from tasks.runtime.profiles import PROFILES

    if profile and profile not in PROFILES:
        err.print(f"error: --profile: choose one of {', '.join(PROFILES)} (got {profile!r})", soft_wrap=True)
        raise typer.Exit(2)
    if profile:
        os.environ["AURA_PROFILE"] = profile  # read when the tasks are defined, so before the flow is imported
        get_settings.cache_clear()
    settings = get_settings()
    if preset in PRESETS:
        aspect = PRESETS[preset].aspect  # the preset's frame decides the shape the brief is written for
    values = {
        "brief": {"topic": topic, "duration": duration, "aspect": aspect, "audience": audience, "goal": goal,
                  "tone": tone, "language": language, "pacing": pacing, "density": density, "visual_style": style,
                  "references": tuple(p.read_text(errors="replace") for p in reference) if reference else None},
        "render": {"resolution": resolution, "fps": fps, "quality": quality, "captions": captions, "motion": motion,
                   "preset": preset, "music": str(music.resolve()) if music else None,
                   "caption_style": caption_style},
        "providers": {"llm": llm or settings.llm, "tts": voice or settings.tts, "images": images or settings.images,
                      "renderer": renderer or settings.renderer},
        "out": out,
        "budget": budget,
    }
    _run(values, as_json, verbose)


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Output .mp4.")] = Path("aura-demo.mp4"),
    duration: Annotated[float, typer.Option(help="Target length in seconds.")] = 60.0,
) -> None:
    """Render the built-in example brief (60 s, 1280×720) fully offline."""
    values = {
        "brief": {"topic": EXAMPLE_TOPIC, "duration": duration, "audience": "curious teenagers", "goal": EXAMPLE_GOAL},
        "render": {},
        "providers": {},
        "out": out,
    }
    _run(values, as_json=False, verbose=False)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Start the REST API (with live progress over SSE) and the web page."""
    from studio.server import run_server

    run_server(host=host, port=port)


def main() -> None:
    """Entry point of the `aura` command."""
    # before Prefect is imported: its settings are read once, at import
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    # Prefect creates its home folder without parents, then fails to start its temporary server
    Path(os.environ.get("PREFECT_HOME") or "~/.prefect").expanduser().mkdir(parents=True, exist_ok=True)
    # the temporary API server can take longer than Prefect's 20 s default on a busy 2-core machine
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    if "-v" not in sys.argv and "--verbose" not in sys.argv:
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "CRITICAL")
    app()


if __name__ == "__main__":
    main()
