"""Drawn cards: right size, palette from the brief, any script drawn without crashing."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from providers.base import ImageRequest
from providers.images.cards import CardPainter, palette


@pytest.mark.parametrize("size", [(1280, 720), (720, 1280), (720, 720)])
def test_card_has_requested_size_and_visible_text(tmp_path: Path, size: tuple[int, int]) -> None:
    request = ImageRequest(prompt="bees", title="How honeybees communicate", text="Bees dance.", width=size[0],
                           height=size[1], palette_key="bees")
    path = CardPainter().generate(request, tmp_path / "card.png")
    with Image.open(path) as img:
        assert img.size == size
        # white title pixels exist near the vertical middle
        band = img.crop((0, size[1] // 3, size[0], 2 * size[1] // 3)).convert("L")
        assert max(band.getdata()) > 240


def test_palette_depends_on_the_brief() -> None:
    assert palette("bees|kids") != palette("volcanoes|kids")
    assert palette("bees|kids") == palette("bees|kids")


def test_text_no_font_covers_is_drawn_without_error(tmp_path: Path) -> None:
    title = "Привет 蜜蜂 مرحبا \U0001f41d \U000e0001"
    request = ImageRequest(prompt="x", title=title * 3, text=title, width=320, height=180)
    assert CardPainter().generate(request, tmp_path / "c.png").is_file()
