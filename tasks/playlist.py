"""A list of briefs rendered one per scheduled run: from the run's parameters or a briefs file.

The next brief is the first one whose video does not exist yet, at the path `make_video` writes to
when no output is given: the list needs no state of its own, a run that failed is tried again the
next time, and appending briefs to the file queues them.

A batch file (`aura batch`) is the same, or CSV with a header row; its fields are the CLI's
(topic, duration, voice, style, resolution...), and each brief is checked on its own.

A briefs file is YAML or JSON (a list of briefs, or of topics; or a mapping with a `briefs` list),
or plain text with one topic per line (`#` starts a comment).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from prefect import task
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from providers.settings import get_settings
from tasks.naming import default_output, job_key
from tasks.preflight import BriefError
from tasks.schemas import Brief, Providers, RenderSpec

__all__ = [
    "BatchItem", "batch_item", "batch_rows", "load_batch", "load_briefs", "next_brief", "parse_briefs",
    "pick_next_brief", "video_path",
]


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


# ------------------------------------------------------------------------------------------------
# batches: a YAML or CSV file of briefs in the CLI's own words, each checked on its own


class BatchItem(BaseModel):
    """One brief of a batch: the flow's parameters, or why it cannot run; and where its video goes."""

    model_config = ConfigDict(frozen=True)

    index: int = Field(ge=1, description="Its place in the batch, from 1.")
    label: str = Field(description="The topic, or what stands in the file when there is none.")
    brief: Brief | None = None
    render: RenderSpec = RenderSpec()
    providers: Providers = Providers()
    out: str = Field("", description="Where its video goes (always set for a runnable item).")
    error: str | None = Field(None, description="Why it cannot run: the field, in the file's words, and what to fix.")

    def parameters(self) -> dict[str, Any]:
        """The keyword arguments of `make_video` for this brief."""
        return {"brief": self.brief, "render": self.render, "providers": self.providers, "out": self.out}

    @property
    def done(self) -> bool:
        """Its video exists already (a batch run again renders only what is missing)."""
        return self.error is None and Path(self.out).is_file()


def _names() -> dict[str, tuple[str, str]]:
    """A column or key (CLI option or model field name) → (part, model field)."""
    from tasks.requests import CLI_NAMES

    parts = {**{f: "brief" for f in Brief.model_fields}, **{f: "render" for f in RenderSpec.model_fields},
             **{f: "providers" for f in Providers.model_fields}, "out": "out"}
    names = {field: (part, field) for field, part in parts.items()}
    for field, option in CLI_NAMES.items():
        if field in parts:
            names[option.lower().removeprefix("--").replace("-", "_")] = (parts[field], field)
    return names


def _typed(part: str, field: str, value: Any) -> Any:
    """A CSV cell as the number or yes/no it spells where the field is not text (`24` → 24, `false` → False)."""
    models: dict[str, type[BaseModel]] = {"brief": Brief, "render": RenderSpec, "providers": Providers}
    model = models.get(part)
    if model is None or not isinstance(value, str) or model.model_fields[field].annotation is str:
        return value
    text = value.strip()
    if model.model_fields[field].annotation is bool:
        return {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}.get(text.lower(), value)
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    if re.fullmatch(r"-?\d*\.\d+", text):
        return float(text)
    return value


def batch_rows(text: str, suffix: str) -> list[dict[str, Any]]:
    """The rows of a batch file: CSV with a header row, or YAML/JSON (a list of mappings or topics)."""
    if suffix == ".csv":
        import csv
        import io

        return [{k: v for k, v in row.items() if k is not None and v not in (None, "")}
                for row in csv.DictReader(io.StringIO(text))]
    if suffix not in (".yaml", ".yml", ".json", ".txt"):
        raise BriefError(f"a batch file ends in .yaml, .yml, .json, .csv or .txt, not {suffix!r}")
    if suffix == ".txt":
        return [{"topic": line} for line in (raw.split("#", 1)[0].strip() for raw in text.splitlines()) if line]
    try:
        items = yaml.safe_load(text) if suffix != ".json" else json.loads(text)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise BriefError(f"the batch file is not valid {suffix.lstrip('.').upper()}: {exc}") from exc
    if isinstance(items, dict):
        items = items.get("briefs")
    if not isinstance(items, list):
        raise BriefError("a batch file holds a list of briefs or topics, or a mapping with a `briefs` list")
    return [{"topic": item} if isinstance(item, str) else item for item in items]


def batch_item(index: int, row: Any, render: RenderSpec, providers: Providers, videos: Path) -> BatchItem:
    """One row as a runnable item, or as an item that says what is wrong with it."""
    from tasks.requests import RequestError, build_request, check_ready

    label = str(row.get("topic") or row.get("brief") or f"brief {index}") if isinstance(row, dict) else str(row)
    where = f"brief {index}"
    if not isinstance(row, dict):
        return BatchItem(index=index, label=label[:60], error=f"{where}: a brief is a topic or a mapping of fields")
    if isinstance(row.get("brief"), (dict, str)):  # the flow's own shape: {"brief": {...}, "render": ...}
        row = {**(row["brief"] if isinstance(row["brief"], dict) else {"topic": row["brief"]}),
               **{k: v for k, v in row.items() if k != "brief"}}
    names = _names()
    fields: dict[str, dict[str, Any]] = {
        "brief": {}, "render": render.model_dump(), "providers": providers.model_dump(), "out": {}}
    said: dict[str, str] = {}
    for key, value in row.items():
        spot = names.get(str(key).strip().lower().removeprefix("--").replace("-", "_"))
        if spot is None:
            return BatchItem(index=index, label=label[:60], error=f"{where}: {key}: not a field of a brief")
        fields[spot[0]][spot[1]] = _typed(spot[0], spot[1], value)
        said[spot[1]] = str(key)
    try:
        request = build_request(fields["brief"], fields["render"], fields["providers"], names=said,
                                out=fields["out"].get("out"), mkdir=False)
        check_ready(request, names=said)
    except RequestError as exc:
        return BatchItem(index=index, label=label[:60], error=f"{where}: {exc}")
    out = str(request.out) if request.out else str(video_path(request.brief, request.render, request.providers,
                                                                videos))
    return BatchItem(index=index, label=request.brief.topic[:60], brief=request.brief, render=request.render,
                     providers=request.providers, out=out)


def load_batch(path: Path, render: RenderSpec, providers: Providers, videos: Path) -> list[BatchItem]:
    """Every brief of the batch file at `path`, each runnable or saying what is wrong with it."""
    if not path.is_file():
        raise BriefError(f"batch file {path} does not exist")
    rows = batch_rows(path.read_text(encoding="utf-8"), path.suffix.lower())
    if not rows:
        raise BriefError(f"batch file {path} holds no briefs")
    return [batch_item(i, row, render, providers, videos) for i, row in enumerate(rows, 1)]
