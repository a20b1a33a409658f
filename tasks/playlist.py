"""A list of briefs rendered one per scheduled run: from the run's parameters or a briefs file.

The next brief is the first one whose video does not exist yet, at the path `make_video` writes to
when no output is given: the list needs no state of its own, a run that failed is tried again the
next time, and appending briefs to the file queues them.

A briefs file is YAML or JSON (a list of briefs, or of topics; or a mapping with a `briefs` list),
or plain text with one topic per line (`#` starts a comment).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from prefect import task
from prefect.cache_policies import NO_CACHE
from pydantic import ValidationError

from providers.settings import get_settings
from tasks.naming import default_output, job_key
from tasks.preflight import BriefError
from tasks.schemas import Brief, Providers, RenderSpec

__all__ = ["load_briefs", "next_brief", "parse_briefs", "pick_next_brief", "video_path"]


def parse_briefs(text: str, suffix: str) -> list[Brief]:
    """Briefs from the text of a briefs file whose name ends in `suffix` (.yaml, .yml, .json or .txt)."""
    if suffix == ".txt":
        items: Any = [line.split("#", 1)[0].strip() for line in text.splitlines()]
        items = [item for item in items if item]
    elif suffix == ".json":
        items = json.loads(text)
    elif suffix in (".yaml", ".yml"):
        items = yaml.safe_load(text)
    else:
        raise BriefError(f"a briefs file ends in .yaml, .yml, .json or .txt, not {suffix!r}")
    if isinstance(items, dict):
        items = items.get("briefs")
    if not isinstance(items, list):
        raise BriefError("a briefs file holds a list of briefs or topics, or a mapping with a `briefs` list")
    briefs = []
    for number, item in enumerate(items, 1):
        try:
            briefs.append(Brief(topic=item) if isinstance(item, str) else Brief.model_validate(item))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "brief"
            raise BriefError(f"brief {number} in the briefs file: {where}: {first['msg']}") from exc
    return briefs


def load_briefs(path: Path) -> list[Brief]:
    """The briefs in the file at `path`."""
    if not path.is_file():
        raise BriefError(f"briefs file {path} does not exist (relative paths start at the repository root)")
    return parse_briefs(path.read_text(encoding="utf-8"), path.suffix.lower())


def video_path(brief: Brief, render: RenderSpec, providers: Providers, videos: Path) -> Path:
    """Where `make_video` puts this brief's video when it is given no output path."""
    job = job_key(brief.model_dump(mode="json"), render.model_dump(mode="json"), providers.model_dump())
    return default_output(videos, brief.topic, job)


def next_brief(briefs: Sequence[Brief], render: RenderSpec, providers: Providers,
               videos: Path) -> Brief | None:
    """The first brief without a video yet, or None when all are rendered."""
    return next((b for b in briefs if not video_path(b, render, providers, videos).is_file()), None)


@task(name="pick_next_brief", cache_policy=NO_CACHE)
def pick_next_brief(briefs: list[Brief], briefs_file: str, render: RenderSpec,
                    providers: Providers) -> Brief | None:
    """The next brief to render from the given briefs, then those of `briefs_file`."""
    queue = [*briefs, *(load_briefs(Path(briefs_file)) if briefs_file else [])]
    if not queue:
        raise BriefError("no briefs: give `briefs` or a `briefs_file`")
    return next_brief(queue, render, providers, get_settings().home.expanduser() / "videos")
