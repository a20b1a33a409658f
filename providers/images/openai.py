"""Image provider `openai:<image-model>`: OpenAI image generation, base64 results written to files.

The model is asked for the size it supports whose shape is closest to the frame; the result is
then cropped to the frame's aspect and scaled to its size (never stretched). OpenAI takes no seed,
so a re-run may give a different picture; the stage's cache keeps the first one.
"""

from __future__ import annotations

import base64
import binascii
import io
from pathlib import Path
from typing import Any

import openai
from PIL import Image, UnidentifiedImageError

from providers.base import ImageRequest
from providers.errors import InvalidOutputError
from providers.media.files import atomic_path
from providers.media.imaging import cover
from providers.remote.secrets import get_secret
from providers.remote.vendor_errors import cause, from_openai
from providers.settings import get_settings

__all__ = ["OpenAIImages", "closest_size"]

DEFAULT_MODEL = "gpt-image-1"
SIZES: dict[str, tuple[str, ...]] = {
    "dall-e-2": ("256x256", "512x512", "1024x1024"),
    "dall-e-3": ("1024x1024", "1792x1024", "1024x1792"),
    "gpt-image": ("1024x1024", "1536x1024", "1024x1536"),
}


def closest_size(model: str, width: int, height: int) -> str:
    """The model's supported size whose aspect is closest to width:height (then the smallest that covers)."""
    family = next((k for k in SIZES if model.startswith(k)), "gpt-image")
    sizes = [tuple(int(x) for x in s.split("x")) for s in SIZES[family]]
    target = width / height

    def score(size: tuple[int, ...]) -> tuple[float, int]:
        w, h = size
        covers = w >= width and h >= height
        return abs(w / h - target), 0 if covers else 1

    w, h = min(sizes, key=score)
    return f"{w}x{h}"


class OpenAIImages:
    """Image provider `openai:<image-model>` (gpt-image-1, dall-e-3, ...)."""

    def __init__(self, model: str = "", *, base_url: str | None = None, api_key: str | None = None,
                 **_: Any) -> None:
        settings = get_settings()
        self.model = model or DEFAULT_MODEL
        self.quality = settings.openai_image_quality
        self._key = api_key or get_secret(settings.openai_api_key, "OPENAI_API_KEY", "openai-api-key",
                                          "the OpenAI API key")
        self.client = openai.OpenAI(api_key=self._key, base_url=base_url or settings.openai_base_url,
                                    timeout=settings.image_timeout, max_retries=settings.vendor_max_retries)

    def generate(self, request: ImageRequest, out_path: Path) -> Path:
        """Make the image for `request` and write it, at the requested size, as a PNG at `out_path`."""
        options: dict[str, Any] = {"size": closest_size(self.model, request.width, request.height), "n": 1}
        if self.model.startswith("dall-e"):
            options["response_format"] = "b64_json"  # gpt-image models always answer in base64
        if self.quality:
            options["quality"] = self.quality
        try:
            response = self.client.images.generate(model=self.model, prompt=request.prompt, **options)
        except openai.OpenAIError as exc:
            error = from_openai(exc, secrets=(self._key,))
            raise error from cause(error, exc)
        except ValueError as exc:  # the body was not JSON
            raise InvalidOutputError("OpenAI answered the image request with a non-JSON body") from exc
        data = getattr(response, "data", None)
        b64 = getattr(data[0], "b64_json", None) if isinstance(data, list) and data else None
        if not b64:
            raise InvalidOutputError("OpenAI answered the image request without image data")
        try:
            with Image.open(io.BytesIO(base64.b64decode(b64, validate=True))) as img:
                img.load()
                picture = cover(img.convert("RGB"), request.width, request.height)
        except (binascii.Error, ValueError, UnidentifiedImageError, OSError) as exc:
            raise InvalidOutputError("OpenAI returned image data that is not a readable image") from exc
        with atomic_path(out_path) as tmp:
            picture.save(tmp, format="PNG", compress_level=1)
        return out_path
