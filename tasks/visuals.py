"""Stage 4: one image per scene; a failed image degrades to a drawn card, never a missing scene."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image
from prefect import task

from providers.base import ImageRequest
from providers.files import file_digest
from providers.registry import resolve
from tasks.caching import resumable
from tasks.naming import content_key, media_path
from tasks.progress import report
from tasks.retry import retry_transient
from tasks.schemas import Brief, SceneImage, Script

__all__ = ["generate_scene_image", "image_path", "image_requests"]


def image_path(run_dir: str, index: int, request: ImageRequest, images: str) -> Path:
    """Where scene `index`'s image for this request and provider goes."""
    key = content_key(request.model_dump(mode="json"), images)
    return media_path(run_dir, "images", index, key, ".png")


def _outputs(inputs: dict[str, Any]) -> list[Path]:
    return [image_path(inputs["run_dir"], inputs["index"], inputs["request"], inputs["images"])]


@task(name="generate_scene_image", cache_policy=resumable(_outputs), persist_result=True, retries=2,
      retry_delay_seconds=0, retry_condition_fn=retry_transient)
def generate_scene_image(run_dir: str, index: int, request: ImageRequest, images: str, total: int = 1) -> SceneImage:
    """Make scene `index`'s image with the provider named by `images`."""
    out = image_path(run_dir, index, request, images)
    path = resolve("images", images).generate(request, out)
    with Image.open(path) as img:
        width, height = img.size
    report("visuals", 1, total, f"scene {index + 1} image ready", "item")
    return SceneImage(index=index, path=path, width=width, height=height, digest=file_digest(path),
                      provider=images)


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
