"""The scheduled flow: render the next brief of a list (parameters or a briefs file), one per run."""

from __future__ import annotations

from prefect import flow

from flows.make_video import make_video
from tasks.playlist import pick_next_brief
from tasks.schemas import Brief, Providers, RenderSpec, Video


@flow(name="render-next-brief", validate_parameters=True)
def render_next_brief(
    briefs: list[Brief] | None = None,
    briefs_file: str = "",
    render: RenderSpec = RenderSpec(),  # noqa: B008 - frozen model, safe as a default
    providers: Providers = Providers(),  # noqa: B008
) -> Video | None:
    """Render the first brief that has no video yet; do nothing once every brief has one.

    Args:
        briefs: Briefs to render in order, one per run; they come before those of the briefs file.
        briefs_file: A YAML, JSON or text file of briefs (or topics), relative to the repository root.
        render: How every video is encoded.
        providers: Which script writer, voice, image generator and renderer to use.
    """
    brief = pick_next_brief(briefs or [], briefs_file, render, providers)
    if brief is None:
        return None
    return make_video(brief=brief, render=render, providers=providers)
