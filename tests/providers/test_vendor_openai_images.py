"""OpenAI images through the real SDK against a local fake server: base64 results written as PNG files."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from providers.base import ImageRequest
from providers.errors import AuthenticationError, ContentRejectedError, InvalidOutputError, TransientError
from providers.images.openai import closest_size
from providers.media.imaging import cover
from providers.registry import resolve
from providers.settings import get_settings
from tests.fakes.openai_server import FakeOpenAI

REQUEST = ImageRequest(prompt="a honeybee on a flower", title="Bees", width=320, height=180, seed=3)


def test_image_is_written_at_the_frame_size(openai_server: FakeOpenAI, tmp_path: Path) -> None:
    out = resolve("images", "openai:gpt-image-1").generate(REQUEST, tmp_path / "a.png")
    with Image.open(out) as img:
        assert img.size == (320, 180) and img.format == "PNG"
    [sent] = openai_server.requests
    assert sent.path == "/v1/images/generations"
    assert sent.body["size"] == "1536x1024" and "response_format" not in sent.body


def test_dalle_asks_for_base64_and_a_portrait_size(openai_server: FakeOpenAI, tmp_path: Path) -> None:
    portrait = REQUEST.model_copy(update={"width": 180, "height": 320})
    resolve("images", "openai:dall-e-3").generate(portrait, tmp_path / "a.png")
    body = openai_server.requests[-1].body
    assert body["size"] == "1024x1792" and body["response_format"] == "b64_json"


@pytest.mark.parametrize(("mode", "error"), [
    ("401", AuthenticationError), ("429", TransientError), ("500", TransientError),
    ("malformed", InvalidOutputError), ("content_policy", ContentRejectedError),
])
def test_failures(openai_server: FakeOpenAI, tmp_path: Path, mode: str, error: type[Exception]) -> None:
    openai_server.mode = mode
    with pytest.raises(error):
        resolve("images", "openai:gpt-image-1").generate(REQUEST, tmp_path / "a.png")
    assert not list(tmp_path.iterdir())


def test_slow_answer_is_transient(openai_server: FakeOpenAI, vendor_env: pytest.MonkeyPatch,
                                  tmp_path: Path) -> None:
    vendor_env.setenv("AURA_IMAGE_TIMEOUT", "0.3")
    get_settings.cache_clear()
    openai_server.mode, openai_server.slow_seconds = "slow", 1.5
    with pytest.raises(TransientError):
        resolve("images", "openai:gpt-image-1").generate(REQUEST, tmp_path / "a.png")


def test_closest_size_and_cover_crop_without_stretching() -> None:
    assert closest_size("gpt-image-1", 1280, 720) == "1536x1024"
    assert closest_size("dall-e-3", 1080, 1080) == "1024x1024"
    assert closest_size("dall-e-2", 300, 300) == "512x512"
    img = Image.new("RGB", (200, 100))
    img.paste((255, 0, 0), (0, 0, 50, 100))  # red left quarter is cropped away for a square
    square = cover(img, 50, 50)
    assert square.size == (50, 50) and square.getpixel((0, 25)) == (0, 0, 0)
