"""Stage 4: one visual per scene, a still or a clip; a failure falls back along the chain, never to a missing scene.

    image_requests ──► choose_footage (footage chains only: search every scene, then give each its own
    (queries from        clip or picture, no item used twice while others remain; cached)
     the script, or  ──► generate_scene_image ×scene (the chosen footage downloaded or linked, verified,
     derived)             re-encoded once when far costlier to decode than the video needs; else the next
                          candidate; else the still providers of the chain; finally a drawn card) ──► SceneVisual
    write_credits: the footage's authors and pages beside the video (`<video>.credits.txt`)
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import av
from PIL import Image
from prefect import task, unmapped
from prefect.futures import PrefectFutureList
from pydantic import BaseModel, ConfigDict

from providers.base import Footage, ImageRequest
from providers.errors import AuraError, AuthenticationError, ConfigurationError, PermanentError, TransientError
from providers.llm.footage_terms import footage_queries
from providers.media.files import atomic_path, file_digest
from providers.media.footage import clip_info, conform_clip, key_frame_gap, needs_conform
from providers.media.imaging import cover
from providers.registry import is_footage, parse_spec, resolve, resolve_footage
from providers.remote.download import check_decodable, fetch
from providers.settings import get_settings
from tasks.naming import content_key, media_path
from tasks.runtime.caching import resumable
from tasks.runtime.fallback import chain_for, is_last_attempt, with_fallback
from tasks.runtime.profiles import DEFAULT_RETRIES, ffmpeg_timeout, profiled
from tasks.runtime.progress import report
from tasks.runtime.retry import retry_transient
from tasks.schemas import Brief, SceneVisual, Script
from tasks.script import WORDS_PER_MINUTE

__all__ = ["FootageChoice", "assign_footage", "choose_footage", "credits_text", "generate_scene_image", "image_path",
           "image_requests", "scene_visuals", "write_credits"]

CANDIDATES = 4  # footage items a scene tries (download, check) before its chain's still providers


class FootageChoice(BaseModel):
    """A scene's footage candidates, its own first, as (provider spec, item); `note` says why others were passed."""

    model_config = ConfigDict(frozen=True)

    candidates: tuple[tuple[str, Footage], ...] = ()
    note: str = ""


def image_path(run_dir: str, index: int, request: ImageRequest, images: str, footage: FootageChoice | None = None,
               suffix: str = ".png") -> Path:
    """Where scene `index`'s visual for this request and provider goes (a clip's file ends in .mp4)."""
    extra = [footage.model_dump(mode="json")] if footage and footage.candidates else []
    key = content_key(request.model_dump(mode="json"), images, *extra)
    return media_path(run_dir, "images", index, key, suffix)


def _outputs(inputs: dict[str, Any]) -> list[Path]:
    png = image_path(inputs["run_dir"], inputs["index"], inputs["request"], inputs["images"], inputs.get("footage"))
    clip = png.with_suffix(".mp4")
    # the scene's visual is whichever one was made: a missing one gives a fresh token, so the stage runs again
    return [clip] if clip.exists() else [png]


def assign_footage(found: Sequence[Sequence[tuple[str, Footage]]], per_scene: int = CANDIDATES
                   ) -> list[tuple[tuple[str, Footage], ...]]:
    """Each scene's candidates, its own first: in scene order, the items given to the fewest scenes so far first.

    So no item is used twice while unused ones remain, and when there are fewer items than scenes they
    take turns rather than the best match filling every remaining scene.
    """
    uses: Counter[str] = Counter()
    chosen = []
    for candidates in found:
        ranked = sorted(enumerate(candidates), key=lambda c: (uses[c[1][1].key], c[0]))
        picked = tuple(c for _, c in ranked[:per_scene])
        if picked:
            uses[picked[0][1].key] += 1
        chosen.append(picked)
    return chosen


@task(name="choose_footage", cache_policy=resumable(), persist_result=True,
      retries=DEFAULT_RETRIES, retry_delay_seconds=0, retry_condition_fn=retry_transient)
def choose_footage(requests: list[ImageRequest], images: str, folders: str = "") -> list[FootageChoice]:
    """Search the chain's footage libraries for every scene and give each scene its own candidates.

    `folders` is the fingerprint of the media folders in the chain: part of the cache key, so that a
    folder with new, removed or replaced files is searched again.
    """
    chain = [spec for spec in chain_for(images, get_settings().fallbacks("images")) if is_footage(spec)]
    found: list[list[tuple[str, Footage]]] = [[] for _ in requests]
    notes: list[list[str]] = [[] for _ in requests]
    for spec in chain:
        library = resolve_footage(spec)  # a missing key fails here, naming the variable to set
        for i, request in enumerate(requests):
            try:
                items = library.search(request)
            except (AuthenticationError, ConfigurationError):
                raise
            except TransientError as exc:
                if not is_last_attempt():
                    raise  # Prefect retries (a 429's Retry-After is honoured); then the chain moves on
                notes[i].append(f"{spec}: {exc}")
                continue
            except PermanentError as exc:
                notes[i].append(f"{spec}: {exc}")
                continue
            if not items:
                notes[i].append(f"{spec}: nothing found for {', '.join(request.queries) or request.title!r}")
            found[i] += [(spec, item) for item in items]
    return [FootageChoice(candidates=picked, note="; ".join(note))
            for picked, note in zip(assign_footage(found), notes, strict=True)]


def _link(src: Path, dest: Path) -> Path:
    """`dest` holding `src`'s content: a hard link where the file system allows, else a copy."""
    with atomic_path(dest) as tmp:
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)
    return dest


def _footage_visual(spec: str, item: Footage, request: ImageRequest, fps: int, png: Path) -> SceneVisual:
    """Make the scene's file from one footage item: fetched or linked, checked, scaled when far too large."""
    settings = get_settings()
    vendor = parse_spec(spec)[0]
    if item.url.startswith(("http://", "https://")):
        source = fetch(item.url, item.key, item.kind, settings.footage_dir, vendor,
                       max_bytes=int(settings.footage_max_mb * 1e6), timeout=settings.footage_timeout)
    else:
        source = Path(item.url)
        if not source.is_file():
            raise ConfigurationError(f"{source} is gone from the media folder")
        check_decodable(source, item.kind, vendor)
    if item.kind == "image":
        with Image.open(source) as img:
            picture = cover(img.convert("RGB"), request.width, request.height)
        with atomic_path(png) as tmp:
            picture.save(tmp, format="PNG", compress_level=1)
        path, width, height, seconds, rate, poster = png, request.width, request.height, 0.0, 0.0, None
    else:
        info = clip_info(source)
        if needs_conform(info, key_frame_gap(source, info.video_duration), request.width, request.height, fps):
            conformed = settings.footage_dir / (f"conformed-{file_digest(source)}-{request.width}x{request.height}"
                                                f"-{fps}.mp4")
            if not conformed.is_file():
                conform_clip(source, conformed, request.width, request.height, fps, ffmpeg_timeout())
            source, info = conformed, clip_info(conformed)
        path = _link(source, png.with_suffix(".mp4"))
        width, height, seconds, rate = info.width, info.height, info.video_duration, info.fps
        poster = _poster(path, png)
    return SceneVisual(index=0, path=path, width=width, height=height, digest=file_digest(path), provider=spec,
                       kind=item.kind, seconds=seconds, fps=rate, credit=item.credit, source_key=item.key,
                       poster=poster)


def _poster(clip: Path, out: Path) -> Path:
    """The clip's first frame as a PNG at `out` (for the storyboard)."""
    with av.open(str(clip)) as container:
        frame = next(container.decode(video=0))
        picture = frame.to_image()
    picture.thumbnail((640, 640))
    with atomic_path(out) as tmp:
        picture.save(tmp, format="PNG", compress_level=1)
    return out


@task(name="generate_scene_image", cache_policy=resumable(_outputs), persist_result=True,
      retries=DEFAULT_RETRIES, retry_delay_seconds=0, retry_condition_fn=retry_transient)
def generate_scene_image(run_dir: str, index: int, request: ImageRequest, images: str,
                         footage: FootageChoice | None = None, total: int = 1, fps: int = 30) -> SceneVisual:
    """Make scene `index`'s visual: its footage candidates, then the chain's still providers, then a drawn card."""
    reasons = [footage.note] if footage and footage.note else []
    png = image_path(run_dir, index, request, images, footage)
    for spec, item in footage.candidates if footage else ():
        try:
            visual = _footage_visual(spec, item, request, fps, png)
        except TransientError as exc:
            if not is_last_attempt():
                raise  # Prefect retries the download first
            reasons.append(f"{spec} {item.key}: {exc}")
        except AuraError as exc:  # not found, not decodable, too large: the next candidate
            reasons.append(f"{spec} {item.key}: {exc}")
        else:
            report("visuals", 1, total, f"scene {index + 1}: {item.why or item.key}", "item")
            return _finished(visual, index, images, reasons)
    stills = [spec for spec in chain_for(images, get_settings().fallbacks("images")) if not is_footage(spec)]

    def make(provider: Any, spec: str) -> Path:
        return Path(provider.generate(request, png))

    try:
        if not stills:
            raise ConfigurationError(f"no footage for scene {index + 1}")
        outcome = with_fallback("images", stills, make)
        path, spec = outcome.value, outcome.spec
        if outcome.fallback_reason:
            reasons.append(outcome.fallback_reason)
    except (AuthenticationError, ConfigurationError) as exc:
        if stills:
            raise  # a wrong or missing key is the user's to fix, not something to paper over with cards
        spec, path = "local", make(resolve("images", "local"), "local")  # footage only: a card, never no scene
        reasons.append(str(exc))
    except AuraError as exc:
        if isinstance(exc, TransientError) and not is_last_attempt():
            raise  # Prefect retries first
        # never a missing scene: a drawn card stands in for an image that could not be made
        spec = "local"
        reasons.append(f"{stills[-1]}: {exc}")
        path = make(resolve("images", "local"), spec)
    with Image.open(path) as img:
        width, height = img.size
    report("visuals", 1, total, f"scene {index + 1} image ready", "item")
    visual = SceneVisual(index=index, path=path, width=width, height=height, digest=file_digest(path), provider=spec)
    return _finished(visual, index, images, reasons)


def _finished(visual: SceneVisual, index: int, images: str, reasons: list[str]) -> SceneVisual:
    degraded = visual.provider != images
    reason = "; ".join(r for r in reasons if r) if degraded else None
    return visual.model_copy(update={"index": index, "degraded": degraded, "fallback_reason": reason or None})


def image_requests(script: Script, brief: Brief, width: int, height: int, job: str) -> list[ImageRequest]:
    """One request per scene: prompt with the brief's style, size, footage queries, expected length, seed."""
    rate = WORDS_PER_MINUTE[brief.pacing] / 60
    return [
        ImageRequest(
            prompt=f"{scene.visual_prompt}, {brief.visual_style}", title=scene.title, text=scene.narration,
            width=width, height=height, seed=int(content_key(job, i), 16) % 2**31, style=brief.visual_style,
            palette_key=f"{brief.topic}|{brief.audience}",
            queries=tuple(scene.queries) or tuple(footage_queries(scene.narration, brief.topic)),
            seconds=round(len(scene.narration.split()) / rate, 1),
        )
        for i, scene in enumerate(script.scenes)
    ]


def scene_visuals(run_dir: str, script: Script, brief: Brief, width: int, height: int, fps: int, job: str,
                  images: str) -> PrefectFutureList[SceneVisual]:
    """Submit the visuals stage: footage chosen for all scenes at once, then one visual per scene."""
    requests = image_requests(script, brief, width, height, job)
    # footage libraries are searched when the first choice is one; after a still provider, only stills follow
    if not is_footage(images):
        footage: list[FootageChoice | None] = [None] * len(requests)
    else:
        footage = list(profiled(choose_footage)(requests, images, _folders_fingerprint(images)))
    return profiled(generate_scene_image).map(unmapped(run_dir), range(len(requests)), requests, unmapped(images),
                                              footage, total=unmapped(len(requests)), fps=unmapped(fps))


def _folders_fingerprint(images: str) -> str:
    """The fingerprints of the media folders in the chain (`media:DIR` specs), joined; '' for none."""
    prints = []
    for spec in chain_for(images, get_settings().fallbacks("images")):
        if parse_spec(spec)[0] == "media":
            fingerprint = getattr(resolve_footage(spec), "fingerprint", None)
            prints.append(str(fingerprint()) if callable(fingerprint) else "")
    return ",".join(prints)


def credits_text(visuals: Sequence[SceneVisual]) -> str:
    """One line per scene made of footage: source, author, page, licence (empty when none was)."""
    lines = []
    for v in sorted(visuals, key=lambda v: v.index):
        if v.credit is None:
            continue
        c = v.credit
        by = f" by {c.author}" if c.author else ""
        page = f" - {c.page_url}" if c.page_url else ""
        licence = f" ({c.licence})" if c.licence else ""
        lines.append(f"Scene {v.index + 1}: {c.source}{by}{page}{licence}")
    return "Footage\n" + "\n".join(lines) + "\n" if lines else ""


@task(name="write_credits")
def write_credits(out: str, visuals: list[SceneVisual]) -> Path | None:
    """Write `<video>.credits.txt` listing each scene's footage source, author and page (none: no file)."""
    text = credits_text(visuals)
    target = Path(out).with_suffix(".credits.txt")
    if not text:
        target.unlink(missing_ok=True)  # a re-run with other visuals must not keep old credits
        return None
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return target
