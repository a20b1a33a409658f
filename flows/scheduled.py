"""The scheduled flow: render the next brief of a list (parameters or a briefs file), one per run.

It is a batch of at most one video (`flows.batch.make_batch` with `max_videos=1`): the same reading of
the file, the same check of each brief, the same `aura-batch` concurrency limit and the same rule for
what is done (its video exists) as `aura batch` and the API's batches.
"""

from __future__ import annotations

from prefect import flow

from flows.batch import make_batch
from tasks.preflight import BriefError
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
        briefs_file: A YAML, JSON, CSV or text file of briefs (or topics), relative to the repository root.
        render: How every video is encoded.
        providers: Which script writer, voice, image generator and renderer to use.
    """
    if not briefs and not briefs_file:
        raise BriefError("no briefs: give `briefs` or a `briefs_file`")
    summary = make_batch(briefs_file=briefs_file, briefs=[b.model_dump(mode="json") for b in briefs or []],
                         render=render, providers=providers, max_videos=1)
    if not summary.items:
        return None
    item = summary.items[0]
    if item.video is None:
        raise BriefError(f"brief {item.index} ({item.label}): {item.message}")
    return item.video
