"""`aura script` (the script a brief gets, as a file to edit) and `aura review` (answer a run waiting in review)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

__all__ = ["register", "review_command", "script_command"]

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
    from pydantic import ValidationError

    from providers.errors import AuraError
    from providers.settings import get_settings
    from studio.cli import _explain
    from tasks.schemas import Brief
    from tasks.script import script_file_text

    fields = {"topic": topic, "duration": duration, "aspect": aspect, "audience": audience, "goal": goal,
              "tone": tone, "language": language, "pacing": pacing, "density": density, "visual_style": style,
              "references": tuple(p.read_text(errors="replace") for p in reference) if reference else None}
    try:
        brief = Brief(**{k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        raise _fail(_explain(exc)) from None
    if not out.parent.expanduser().is_dir():
        raise _fail(f"--out: the folder {out.parent} does not exist")
    from tasks.script import write_script

    try:
        # the task itself (cached by its inputs): a later `aura generate` of the same brief reuses this script
        script = write_script(brief, llm or get_settings().llm)
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
