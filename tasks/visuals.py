"""Stage 4: one image per scene; a failed image degrades to a drawn card, never a missing scene."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image
from prefect import task

from providers.base import ImageRequest
from providers.errors import AuraError, AuthenticationError, ConfigurationError, TransientError
from providers.media.files import file_digest
from providers.registry import resolve
from providers.settings import get_settings
from tasks.naming import content_key, media_path
from tasks.runtime.caching import resumable
from tasks.runtime.fallback import chain_for, is_last_attempt, with_fallback
from tasks.runtime.profiles import active_profile
from tasks.runtime.progress import report
from tasks.runtime.retry import retry_transient
from tasks.schemas import Brief, SceneImage, Script

__all__ = ["generate_scene_image", "image_path", "image_requests"]

PROFILE = active_profile()


def image_path(run_dir: str, index: int, request: ImageRequest, images: str) -> Path:
    """Where scene `index`'s image for this request and provider goes."""
    key = content_key(request.model_dump(mode="json"), images)
    return media_path(run_dir, "images", index, key, ".png")


def _outputs(inputs: dict[str, Any]) -> list[Path]:
    return [image_path(inputs["run_dir"], inputs["index"], inputs["request"], inputs["images"])]


@task(name="generate_scene_image", cache_policy=resumable(_outputs), persist_result=True, retries=PROFILE.retries,
      retry_delay_seconds=0, retry_condition_fn=retry_transient, timeout_seconds=PROFILE.stage_timeout["visuals"])
def generate_scene_image(run_dir: str, index: int, request: ImageRequest, images: str, total: int = 1) -> SceneImage:
    """Make scene `index`'s image with `images` (then the configured fallbacks, then a drawn card)."""
    chain = chain_for(images, get_settings().fallbacks("images"))

    def make(provider: Any, spec: str) -> Path:
        return Path(provider.generate(request, image_path(run_dir, index, request, spec)))

    try:
        outcome = with_fallback("images", chain, make)
        path, spec, reason = outcome.value, outcome.spec, outcome.fallback_reason
    except (AuthenticationError, ConfigurationError):
        raise  # a wrong or missing key is the user's to fix, not something to paper over with cards
    except AuraError as exc:
        if isinstance(exc, TransientError) and not is_last_attempt():
            raise  # Prefect retries first
        # never a missing scene: a drawn card stands in for an image that could not be made
        spec, reason = "local", f"{chain[-1]}: {exc}"
        path = make(resolve("images", "local"), spec)
    with Image.open(path) as img:
        width, height = img.size
    report("visuals", 1, total, f"scene {index + 1} image ready", "item")
    return SceneImage(index=index, path=path, width=width, height=height, digest=file_digest(path),
                      provider=spec, degraded=spec != images, fallback_reason=reason)


def image_requests(script: Script, brief: Brief, width: int, height: int, job: str) -> list[ImageRequest]:
    """One request per scene: prompt with the brief's style, size, and a seed fixed per job and scene."""
    return [
        ImageRequest(
            prompt=f"{scene.visual_prompt}, {brief.visual_style}", title=scene.title, text=scene.narration,
            width=width, height=height, seed=int(content_key(job, i), 16) % 2**31, style=brief.visual_style,
            palette_key=f"{brief.topic}|{brief.audience}",
        )
        for i, scene in enumerate(script.scenes)
    ]
