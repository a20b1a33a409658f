"""The `aura` command: generate a video from a brief, with live progress on stderr.

Each command is a small function; what they share lives beside them:
- `_prepare` turns options into a `VideoRequest` through `tasks.requests` and refuses, with one line and
  exit 2, everything that can be known before a run (input, keys, extras, voices, output folder, disk):
  in well under a second, before any Prefect server or SDK starts.
- `_connect` points Prefect at a running server (the user's, or `aura server start`'s), else at a
  temporary one of our own that dies with this process (`studio.local_server`).
- `_execute` runs the flow with Ctrl-C/SIGTERM handling and prints the summary.
"""

from __future__ import annotations

import atexit
import errno
import gc
import os
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, get_args

import typer
from rich.console import Console

from studio import cli_batch, cli_script
from studio.progress_view import ProgressView

__all__ = ["app", "main"]

app = typer.Typer(
    add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
    help="Aura: brief → narrated, captioned MP4.",
)
server_app = typer.Typer(no_args_is_help=True, help="Keep a local Prefect server running between commands.")
app.add_typer(server_app, name="server")
err = Console(stderr=True)

EXAMPLE_TOPIC = "How honeybees communicate"
EXAMPLE_GOAL = "explain the waggle dance and how bees share where food is"


def _fail(message: str, code: int = 2) -> typer.Exit:
    """Print one `error:` line; the caller raises the returned Exit."""
    err.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _choices(model: str, name: str) -> str:
    """The accepted values of a schema field, for --help (read from the schema, so that they never drift)."""
    from tasks import schemas

    annotation = getattr(schemas, model).model_fields[name].annotation
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        values: list[Any] = [member.value for member in annotation]
    else:
        values = list(get_args(annotation))
    return ", ".join(str(v) for v in values if v != "none")


def _default(model: str, name: str) -> Any:
    from tasks import schemas

    value = getattr(schemas, model).model_fields[name].default
    return value.value if hasattr(value, "value") else value


# ------------------------------------------------------------------------------------------------
# before the run: validate and check, fast


def _prepare(brief: dict[str, Any], render: dict[str, Any], providers: dict[str, Any], out: Path | None,
             mkdir: bool, budget: float | None) -> Any:
    """The validated, checked request, or exit 2 with one line saying what to fix."""
    from tasks.requests import RequestError, build_request, check_ready

    try:
        request = build_request(brief, render, providers, out=out, mkdir=mkdir, budget=budget)
        check_ready(request, allow_paths=True)
    except RequestError as exc:
        raise _fail(str(exc)) from None
    return request


# ------------------------------------------------------------------------------------------------
# the Prefect API this command talks to


def _connect() -> bool:
    """Use a running Prefect server, else start a temporary one that dies with us (it starts while we import).

    True when the server is one Aura started (persistent or temporary) rather than one the user configured.
    """
    from studio.local_server import ServerError, TemporaryServer, configured_url, prefect_home, running_url

    url = running_url()
    if url:
        os.environ["PREFECT_API_URL"] = url
        return configured_url() is None
    try:
        server = TemporaryServer(prefect_home() / "aura-temporary-server.log")
    except (OSError, ServerError) as exc:
        raise _fail(f"cannot start a temporary Prefect server: {exc}", 1) from None
    atexit.register(server.stop)  # registered before Prefect's own exit hooks, so it runs after they flush
    os.environ["PREFECT_API_URL"] = server.url
    _CONNECTED.append(server)
    return True


_CONNECTED: list[Any] = []


def _wait_connected() -> None:
    from studio.local_server import ServerError

    for server in _CONNECTED:
        try:
            server.wait_ready()
        except ServerError as exc:
            raise _fail(str(exc), 1) from None


# ------------------------------------------------------------------------------------------------
# the run


def _quiet_prefect() -> None:
    """Keep Prefect's own log lines off the terminal; the progress view and errors say what matters."""
    import logging

    for name in ("prefect", "prefect.flow_runs", "prefect.task_runs", "prefect.server"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def _summary(video: Any) -> None:
    scenes = f"{video.scenes} scene{'' if video.scenes == 1 else 's'}"
    err.print(f"[bold green]✓[/] {video.title}: {video.duration:.1f} s, {video.width}×{video.height}, "
              f"{scenes}, {video.size_bytes / 1e6:.1f} MB", highlight=False)
    for stage, m in video.metrics.items():
        note = " (cached)" if m.cached else ""
        err.print(f"  {stage:<12} {m.seconds:7.2f} s  {m.items_done:>3} done  {m.provider}{note}", highlight=False)
    err.print(f"  captions     {video.srt}", highlight=False)
    if video.cost_usd:
        err.print(f"  cost         ${video.cost_usd:.4f} (estimated ${video.estimated_cost_usd or 0:.4f})")
    for stage, reason in video.degraded.items():
        err.print(f"[yellow]degraded[/] {stage}: {reason}", soft_wrap=True)


def _os_error(exc: OSError) -> str:
    """One line for an ordinary OS error, naming what to fix."""
    where = f" {exc.filename}" if exc.filename else ""
    if exc.errno == errno.ENOSPC:
        return f"the disk is full writing{where}: free space, or choose another folder (--out, AURA_HOME)"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"not allowed to write{where}: choose a folder you can write (--out, AURA_HOME)"
    if exc.errno in (errno.ENOTDIR, errno.EEXIST):
        return f"{exc.filename or 'a path'} is in the way: a file where a folder is needed (--out, AURA_HOME)"
    return f"{exc.strerror or exc}{':' + where if where else ''}"


def _say_cancelled() -> None:
    err.print("cancelled: no video was written; run the same command again to resume", soft_wrap=True)


def _execute(request: Any, as_json: bool, verbose: bool, script: Any = None, review: bool = False) -> None:
    """Run the flow for `request`, with Ctrl-C/SIGTERM cancelling cleanly, and print the result."""
    own_server = _connect()
    if not verbose:
        _quiet_prefect()
    from prefect.exceptions import CancelledRun, FailedRun
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    from flows.make_video import make_video
    from providers.errors import AuraError
    from studio.cli_script import review_prompt
    from tasks.runtime.cancellation import cancelled_by_signals, children_die_with_me

    children_die_with_me()  # whatever kills us (SIGKILL included), no server or ffmpeg of ours outlives us
    _wait_connected()
    view = ProgressView(err, enabled=not verbose and not review)  # a review talks on the terminal instead
    # Heartbeats only feed a server's zombie-run automation, which Aura's own servers do not have; Prefect
    # joins their thread at the end of every run, which costs up to a second of a cached re-run
    heartbeats = {PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None} if own_server else {}
    with cancelled_by_signals(_say_cancelled) as interrupt:
        try:
            with view, review_prompt(review), temporary_settings(updates=heartbeats):
                video = make_video(**request.flow_parameters(), script=script, review=review)
        except AuraError as exc:
            if interrupt.cancelled:  # a stage that failed because Ctrl-C stopped its ffmpeg
                interrupt.announce()
                raise typer.Exit(interrupt.exit_code) from None
            raise _fail(str(exc), 1) from None
        except OSError as exc:
            raise _fail(_os_error(exc), 1) from None
        except (CancelledRun, FailedRun) as exc:  # rejected in review, or not answered in time
            raise _fail(f"stopped: {exc}", 1) from None
    if as_json:
        sys.stdout.write(video.model_dump_json() + "\n")
    else:
        _summary(video)
        print(video.path)


# ------------------------------------------------------------------------------------------------
# commands


@app.command()
def generate(
    topic: Annotated[str | None, typer.Argument(
        help="What the video is about, e.g. 'How honeybees communicate' (with --script: the file's brief).",
        show_default=False)] = None,
    duration: Annotated[float, typer.Option(help="Target length in seconds, 10 to 1800.")] = 60.0,
    aspect: Annotated[str, typer.Option(help=f"Frame shape: {_choices('Brief', 'aspect')}.")] = "16:9",
    out: Annotated[Path | None, typer.Option(
        help="Output .mp4; its folder must exist (see --mkdir). Default: AURA_HOME/videos/TOPIC-KEY.mp4.",
        show_default=False)] = None,
    mkdir: Annotated[bool, typer.Option("--mkdir", help="Create the --out folder if it does not exist.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as one JSON object on stdout.")] = False,
    audience: Annotated[str, typer.Option(help="Who will watch it.")] = _default("Brief", "audience"),
    goal: Annotated[str, typer.Option(help="What viewers should know or do afterwards.")] = "",
    tone: Annotated[str, typer.Option(help="Tone of the narration, e.g. friendly, formal.")] = _default(
        "Brief", "tone"),
    language: Annotated[str, typer.Option(help="Narration language code, e.g. en, de, fr.")] = "en",
    pacing: Annotated[str, typer.Option(help=f"Speaking pace: {_choices('Brief', 'pacing')}.")] = _default(
        "Brief", "pacing"),
    density: Annotated[str, typer.Option(
        help=f"Scenes per minute: {_choices('Brief', 'density')}.")] = _default("Brief", "density"),
    style: Annotated[str, typer.Option(help="Visual style words for the images.")] = _default(
        "Brief", "visual_style"),
    resolution: Annotated[str, typer.Option(
        help=f"Frame size (short side): {_choices('RenderSpec', 'resolution')}.")] = _default(
        "RenderSpec", "resolution"),
    fps: Annotated[int, typer.Option(help=f"Frames per second: {_choices('RenderSpec', 'fps')}.")] = _default(
        "RenderSpec", "fps"),
    quality: Annotated[str, typer.Option(
        help=f"Encoder effort: {_choices('RenderSpec', 'quality')}.")] = _default("RenderSpec", "quality"),
    captions: Annotated[bool, typer.Option("--captions/--no-captions", help="Burn in captions.")] = True,
    motion: Annotated[bool, typer.Option("--motion/--no-motion", help="Slow zoom on each image.")] = True,
    llm: Annotated[str | None, typer.Option(
        help="Script writer: local, openai:MODEL, ollama:MODEL, openai-compat:MODEL. (default: AURA_LLM or local)",
        show_default=False)] = None,
    voice: Annotated[str | None, typer.Option(
        help="Voice: local, espeak:VOICE, kokoro:VOICE, piper:VOICE, elevenlabs:VOICE_ID, openai:MODEL; "
             "`aura voices` lists the local ones. (default: AURA_TTS or local)",
        show_default=False)] = None,
    images: Annotated[str | None, typer.Option(
        help="Visuals: local (drawn cards), pexels, pexels-photos, pixabay, pixabay-photos (stock footage; "
             "PEXELS_API_KEY / PIXABAY_API_KEY), diffusers:MODEL_OR_PATH, openai:MODEL. (default: AURA_IMAGES "
             "or local)", show_default=False)] = None,
    media: Annotated[Path | None, typer.Option(
        exists=True, file_okay=False, help="Your own clips and pictures: each scene gets the best-matching file "
        "of this folder (by file, folder and sidecar .txt names). Same as --images media:DIR.",
        show_default=False)] = None,
    renderer: Annotated[str | None, typer.Option(
        help="Renderer: ffmpeg or moviepy. (default: AURA_RENDERER or ffmpeg)", show_default=False)] = None,
    verbose: Annotated[bool, typer.Option(
        "--verbose", "-v", help="Show Prefect's logs instead of progress bars.")] = False,
    preset: Annotated[str | None, typer.Option(
        help=f"{_choices('RenderSpec', 'preset')}: sets the frame size and shape instead of --resolution and "
             "--aspect (shorts is 1080x1920 for Shorts/TikTok/Reels; 4k is H.265).", show_default=False)] = None,
    music: Annotated[Path | None, typer.Option(
        exists=True, dir_okay=False, help="Background music file: looped or trimmed, ducked under the voice.",
        show_default=False)] = None,
    caption_style: Annotated[str, typer.Option(
        help="phrase (a phrase at a time) or karaoke (word by word, the spoken word highlighted).")] = _default(
        "RenderSpec", "caption_style"),
    reference: Annotated[list[Path] | None, typer.Option(
        exists=True, dir_okay=False, help="A text file of reference material for the script (repeatable).",
        show_default=False)] = None,
    budget: Annotated[float | None, typer.Option(
        help="Most USD the run may cost; refused before it starts. (default: AURA_BUDGET or none)",
        show_default=False)] = None,
    profile: Annotated[str | None, typer.Option(
        help="default, debug (4× the writer's and ffmpeg's time limits) or quick-demo (short limits, one retry, "
             "the template script if the LLM's fails). (default: AURA_PROFILE or default)",
        show_default=False)] = None,
    script: Annotated[Path | None, typer.Option(
        "--script", help="Render this script file (from `aura script`, edited) instead of writing one.",
        show_default=False)] = None,
    review: Annotated[bool, typer.Option(
        "--review", help="Stop after the script: approve, edit or reject it here or in the Prefect UI.")] = False,
) -> None:
    """Render a narrated, captioned MP4 from a topic or a short brief."""
    from providers.settings import get_settings
    from tasks.runtime.profiles import PROFILES

    if profile is not None and profile not in PROFILES:
        raise _fail(f"--profile: choose one of {', '.join(PROFILES)} (got {profile!r})")
    if profile is not None:
        os.environ["AURA_PROFILE"] = profile  # read when the run starts
        get_settings.cache_clear()
    try:
        texts = tuple(p.read_text(errors="replace") for p in reference) if reference else None
    except OSError as exc:
        raise _fail(f"--reference: {_os_error(exc)}") from None
    if media is not None:
        if images:
            raise _fail("--media and --images both choose the visuals: use one (for a fallback to your folder, "
                        "set AURA_FALLBACK_IMAGES=media:DIR)")
        images = f"media:{media.resolve()}"
    from studio.cli_script import script_option

    file_brief, given = script_option(script, topic)
    request = _prepare(
        file_brief or {"topic": topic, "duration": duration, "aspect": aspect, "audience": audience, "goal": goal,
                       "tone": tone, "language": language, "pacing": pacing, "density": density,
                       "visual_style": style, "references": texts},
        {"resolution": resolution, "fps": fps, "quality": quality, "captions": captions, "motion": motion,
         "preset": preset, "music": str(music.resolve()) if music else None, "caption_style": caption_style},
        {"llm": llm, "tts": voice, "images": images, "renderer": renderer},
        out, mkdir, budget,
    )
    _execute(request, as_json, verbose, script=given, review=review)


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Output .mp4.")] = Path("aura-demo.mp4"),
    duration: Annotated[float, typer.Option(help="Target length in seconds.")] = 60.0,
) -> None:
    """Render the built-in example brief (60 s, 1280×720) fully offline, narrating a bundled text on honeybees."""
    # the reference gives the offline writer real facts to narrate (studio/examples/honeybees.md, CC0)
    example = (Path(__file__).parent / "examples" / "honeybees.md").read_text(encoding="utf-8")
    request = _prepare({"topic": EXAMPLE_TOPIC, "duration": duration, "audience": "curious teenagers",
                        "goal": EXAMPLE_GOAL, "references": (example,)}, {},
                       {"llm": "local", "tts": "local", "images": "local"},
                       out, False, None)
    _execute(request, as_json=False, verbose=False)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    allow_open: Annotated[bool, typer.Option(
        "--allow-open", help="Serve beyond loopback without API keys (refused otherwise).")] = False,
) -> None:
    """Start the REST API (with live progress over SSE), the web page, and a runner for its jobs."""
    from studio.server import run_server

    run_server(host=host, port=port, allow_open=allow_open)


@app.command()
def voices(
    engine: Annotated[str | None, typer.Option(help="Only this engine: espeak, kokoro or piper.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the list as JSON.")] = False,
) -> None:
    """List the voices each installed engine can speak now (espeak, Kokoro, Piper): pass one as --voice."""
    import json

    from providers.tts.voices import list_voices

    if engine not in (None, "espeak", "kokoro", "piper"):
        raise _fail(f"unknown voice engine {engine!r}: choose espeak, kokoro or piper")
    found = list_voices(engine)
    if as_json:
        print(json.dumps([v.model_dump() for v in found], indent=1))
        return
    for v in found:
        print(f"{v.spec:32} {v.language:10} {v.location}")


@app.command()
def music(
    out: Annotated[Path, typer.Argument(help="The WAV file to write.")] = Path("aura-bed.wav"),
    seconds: Annotated[float, typer.Option(min=4, max=120, help="Length of the loop in seconds.")] = 16.0,
) -> None:
    """Write Aura's own music bed (a soft chord pad, CC0) as a WAV that loops seamlessly: pass it to --music."""
    from providers.media.music_bed import write_music_bed

    if out.suffix.lower() != ".wav":
        raise _fail(f"{out}: the music bed is written as WAV: give a name ending in .wav")
    if not out.resolve().parent.is_dir():
        raise _fail(f"folder {out.resolve().parent} does not exist: create it first")
    print(write_music_bed(out, seconds))


@server_app.command("start")
def server_start(
    port: Annotated[int, typer.Option(help="Port of the Prefect API and UI (0: any free port).")] = 4200,
) -> None:
    """Start a Prefect server in the background; every `aura` command then uses it and starts in about a second."""
    from studio.local_server import ServerError, configured_url, start_persistent

    configured = configured_url()
    if configured:
        raise _fail(f"PREFECT_API_URL is set ({configured}): aura already uses that server", 1)
    try:
        info = start_persistent(port)
    except (OSError, ServerError) as exc:
        raise _fail(str(exc), 1) from None
    err.print(f"Prefect server running at {info.url} (UI: http://127.0.0.1:{info.port}, pid {info.pid}); "
              "stop it with `aura server stop`", highlight=False, soft_wrap=True)


@server_app.command("stop")
def server_stop() -> None:
    """Stop the Prefect server `aura server start` started."""
    from studio.local_server import stop_persistent

    info = stop_persistent()
    err.print(f"stopped the Prefect server at {info.url}" if info else "no Prefect server of aura's is running",
              highlight=False)


@server_app.command("status")
def server_status() -> None:
    """Say which Prefect server `aura` commands use (exit 1 when each command starts its own)."""
    from studio.local_server import configured_url, running_url

    url = running_url()
    if url is None:
        err.print("no server running: each command starts a temporary one (a few seconds); "
                  "`aura server start` keeps one running", highlight=False, soft_wrap=True)
        raise typer.Exit(1)
    source = "PREFECT_API_URL" if configured_url() else "aura server start"
    print(url)
    err.print(f"aura commands use {url} ({source})", highlight=False)


cli_script.register(app)  # aura script, aura review
cli_batch.register(app)  # aura batch


def main() -> None:
    """Entry point of the `aura` command."""
    # Runs last, after every other exit hook has flushed: the interpreter then skips collecting the ~2,000
    # modules Prefect imports one by one, a third of a second of every command
    atexit.register(gc.freeze)
    # before Prefect is imported: its settings are read once, at import
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    home = Path(os.environ.get("PREFECT_HOME") or "~/.prefect").expanduser()
    try:  # Prefect creates its home folder without parents, then fails to start
        home.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        err.print(f"error: PREFECT_HOME: {_os_error(exc)}", markup=False, highlight=False, soft_wrap=True)
        raise SystemExit(2) from None
    if "-v" not in sys.argv and "--verbose" not in sys.argv:
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "CRITICAL")
    try:
        code = app(standalone_mode=False)
    except typer.TyperException as exc:  # click's usage errors: one line too, like every other refusal
        if type(exc).__name__ == "NoArgsIsHelpError":  # `aura` alone: the help, as before
            exc.show()  # type: ignore[attr-defined]
            raise SystemExit(exc.exit_code) from None
        message = " ".join(exc.format_message().split())
        err.print(f"error: {message} (see --help)", markup=False, highlight=False, soft_wrap=True)
        raise SystemExit(exc.exit_code) from None
    except typer.Abort:
        raise SystemExit(130) from None
    raise SystemExit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
