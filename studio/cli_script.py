"""`aura script` (the script a brief gets, as a file to edit) and `aura review` (answer a run waiting in review)."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

__all__ = ["register", "review_command", "review_prompt", "script_command", "script_option"]

err = Console(stderr=True)


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(code)


def write_atomically(path: Path, text: str) -> None:
    """Write `text` to `path` whole or not at all (a temporary file beside it, then a rename)."""
    part = path.with_name(f".{path.name}.part")
    try:
        part.write_text(text, encoding="utf-8")
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)


def script_command(
    topic: Annotated[str, typer.Argument(help="What the video is about, e.g. 'How honeybees communicate'.")],
    out: Annotated[Path, typer.Option(help="The script file to write (JSON).")] = Path("script.json"),
    duration: Annotated[float, typer.Option(help="Target length in seconds (10 to 1800).")] = 60.0,
    aspect: Annotated[str, typer.Option(help="Frame shape: 16:9, 9:16 or 1:1.")] = "16:9",
    audience: Annotated[str | None, typer.Option(help="Who will watch it.")] = None,
    goal: Annotated[str | None, typer.Option(help="What viewers should know or do afterwards.")] = None,
    tone: Annotated[str | None, typer.Option(help="Tone of the narration, e.g. friendly, formal.")] = None,
    language: Annotated[str | None, typer.Option(help="Narration language code, e.g. en, de, fr.")] = None,
    pacing: Annotated[str | None, typer.Option(help="chill, conversational or fast.")] = None,
    density: Annotated[str | None, typer.Option(help="sparse, balanced or dense (scenes per minute).")] = None,
    style: Annotated[str | None, typer.Option(help="Visual style words for the images.")] = None,
    llm: Annotated[str | None, typer.Option(help="Script writer: local, openai:MODEL, ollama:MODEL.")] = None,
    reference: Annotated[list[Path] | None, typer.Option(
        exists=True, dir_okay=False, help="A text file of reference material for the script (repeatable).")] = None,
) -> None:
    """Write the script the flow would use for this brief to a JSON file; edit it, then `aura generate --script`."""
    from providers.errors import AuraError
    from tasks.requests import RequestError, build_request
    from tasks.runtime.profiles import profiled
    from tasks.script import script_file_text, write_script

    fields = {"topic": topic, "duration": duration, "aspect": aspect, "audience": audience, "goal": goal,
              "tone": tone, "language": language, "pacing": pacing, "density": density, "visual_style": style,
              "references": tuple(p.read_text(errors="replace") for p in reference) if reference else None}
    try:
        request = build_request(fields, None, {"llm": llm})
    except RequestError as exc:
        raise _fail(str(exc)) from None
    brief = request.brief
    if not out.parent.expanduser().is_dir():
        raise _fail(f"--out: the folder {out.parent} does not exist")
    from studio.cli import _connect, _quiet_prefect, _wait_connected

    _connect()
    _quiet_prefect()
    _wait_connected()
    try:
        # the task itself (cached by its inputs): a later `aura generate` of the same brief reuses this script
        script = profiled(write_script)(brief, request.providers.llm)
    except AuraError as exc:
        raise _fail(str(exc), 1) from None
    write_atomically(out.expanduser(), script_file_text(script, brief))
    err.print(f"{script.title}: {len(script.scenes)} scenes, {script.word_count} words", highlight=False)
    print(out)


def review_command(
    run_id: Annotated[str, typer.Argument(help="The flow run waiting in review (its id, as the UI shows it).")],
    approve: Annotated[bool, typer.Option("--approve", help="Render the script as it is.")] = False,
    reject: Annotated[str | None, typer.Option("--reject", help="Stop the run; the text is the reason.")] = None,
    script: Annotated[Path | None, typer.Option(
        "--script", help="Render this script file instead (e.g. the waiting one, saved with --show, edited).")] = None,
    show: Annotated[Path | None, typer.Option("--show", help="Write the waiting script to this file.")] = None,
) -> None:
    """Answer a run waiting in script review: show it, approve it (as it is or edited) or reject it."""
    from tasks.review import pending_review, review_answer
    from tasks.script import ScriptFileError, load_script_file, script_file_text

    chosen = sum([approve, reject is not None, script is not None, show is not None])
    if chosen != 1:
        raise _fail("give exactly one of --approve, --reject REASON, --script FILE or --show FILE")
    waiting = pending_review(run_id)
    if waiting is None:
        raise _fail(f"flow run {run_id} is not waiting in review", 1)
    if show is not None:
        write_atomically(show, script_file_text(waiting.script))
        err.print(waiting.description, markup=False, highlight=False)
        print(show)
        return
    edited = None
    if script is not None:
        try:
            edited = load_script_file(script)[1]
        except ScriptFileError as exc:
            raise _fail(str(exc)) from None
    review_answer(run_id, "reject" if reject is not None else "approve", edited, reject or "")
    err.print(f"{'rejected' if reject is not None else 'approved'}: {waiting.script.title}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add `aura script` and `aura review` to the `aura` command."""
    app.command(name="script")(script_command)
    app.command(name="review")(review_command)


# ------------------------------------------------------------------------------------------------
# `aura generate --script FILE` and `--review`


def script_option(path: Path | None, topic: str | None) -> tuple[dict[str, object] | None, object | None]:
    """The brief fields recorded in the script file (used when no TOPIC is given) and the script; exit 2 if bad."""
    if path is None:
        if not topic:
            raise _fail("TOPIC: say what the video is about (or give --script FILE)")
        return None, None
    from tasks.script import ScriptFileError, load_script_file

    try:
        brief, script = load_script_file(path)
    except ScriptFileError as exc:
        raise _fail(f"--script: {exc}") from None
    if topic:
        return None, script
    if brief is None:
        return {"topic": script.title}, script
    return brief.model_dump(mode="json"), script


def _wait_for_paused(tag: str, stop: threading.Event) -> str | None:
    """The id of this command's flow run once it waits in review (None when the run ended first)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags

    with get_client(sync_client=True) as client:
        while not stop.wait(0.5):
            runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=[tag])))
            for run in runs:
                if run.state is not None and run.state.is_paused():
                    return str(run.id)
    return None


def _edit(text: str) -> str:
    """`text` after the user edited it in $VISUAL/$EDITOR (vi when neither is set)."""
    import shlex
    import subprocess
    import tempfile

    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    with tempfile.TemporaryDirectory(prefix="aura-review-") as folder:
        draft = Path(folder) / "script.json"
        draft.write_text(text, encoding="utf-8")
        subprocess.run([*shlex.split(editor), str(draft)], check=False)
        return draft.read_text(encoding="utf-8")


def _converse(tag: str, stop: threading.Event) -> None:
    """Show the waiting script and answer it from the terminal: approve, edit in $EDITOR, or reject."""
    from rich.markdown import Markdown

    from tasks.review import pending_review, review_answer
    from tasks.script import ScriptFileError, given_script, script_file_text

    run_id = _wait_for_paused(tag, stop)
    waiting = None
    # Prefect records the pause a moment before it stores the review form: wait for the form
    while run_id is not None and waiting is None and not stop.is_set():
        waiting = pending_review(run_id)
        if waiting is None:
            stop.wait(0.2)
    if run_id is None or waiting is None:
        return
    err.print(Markdown(waiting.description))
    err.print(f"[a]pprove, [e]dit in $EDITOR, [r]eject — or answer in the Prefect UI or with "
              f"`aura review {run_id}`", highlight=False, markup=False, soft_wrap=True)
    while not stop.is_set():
        err.print("review> ", end="", markup=False)
        line = sys.stdin.readline()
        if not line:  # no terminal to answer from: the UI or `aura review` answers
            err.print(f"waiting for the review of {run_id} in the Prefect UI or `aura review`", soft_wrap=True)
            return
        choice = line.strip().lower()[:1]
        try:
            if choice == "a":
                review_answer(run_id, "approve")
            elif choice == "r":
                err.print("reason> ", end="", markup=False)
                review_answer(run_id, "reject", reason=sys.stdin.readline().strip())
            elif choice == "e":
                import json

                edited = given_script(json.loads(_edit(script_file_text(waiting.script))))
                review_answer(run_id, "approve", edited)
            else:
                continue
        except (ScriptFileError, ValueError) as exc:
            err.print(f"not accepted: {exc}; answer again", markup=False, highlight=False, soft_wrap=True)
            continue
        except Exception as exc:  # noqa: BLE001 - the run may have been answered or ended meanwhile; say so
            err.print(f"could not answer the review: {exc}", markup=False, highlight=False, soft_wrap=True)
        return


@contextlib.contextmanager
def review_prompt(enabled: bool) -> Iterator[None]:
    """While the flow runs, answer its script review from this terminal (tags the run so that it can be found)."""
    if not enabled:
        yield
        return
    import uuid

    from prefect import tags

    tag = f"aura-cli-{uuid.uuid4().hex[:12]}"
    stop = threading.Event()
    thread = threading.Thread(target=_converse, args=(tag, stop), name="aura-review", daemon=True)
    with tags(tag):
        thread.start()
        try:
            yield
        finally:
            stop.set()
