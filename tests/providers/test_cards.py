"""Drawn cards: right size, palette from the brief, any script drawn without crashing."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from providers.base import ImageRequest
from providers.images.cards import LAYOUTS, CardPainter, key_line, palette


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


def test_each_scene_gets_its_own_card(tmp_path: Path) -> None:
    # the same brief (palette), different scenes: layout and accent follow the scene's seed, the text its narration
    cards = []
    for seed in range(len(LAYOUTS)):
        request = ImageRequest(prompt="bees", title=f"Scene {seed}", text="Bees dance. The waggle run points to food.",
                               width=320, height=180, seed=seed, palette_key="bees")
        with Image.open(CardPainter().generate(request, tmp_path / f"{seed}.png")) as img:
            cards.append(img.convert("L").resize((32, 18)))
    for i in range(len(cards)):
        for j in range(i + 1, len(cards)):
            diff = sum(abs(a - b) for a, b in zip(cards[i].getdata(), cards[j].getdata(), strict=True)) / (32 * 18)
            assert diff > 4, (i, j, diff)


def test_key_line_is_the_sentence_with_most_content() -> None:
    assert key_line("Now for the mechanism. The waggle run points to food.") == "The waggle run points to food."
    long = "Honeybees share the location of food through the waggle dance on the comb in the dark of the hive."
    assert key_line(long, words=8) == "Honeybees share the location of food through…"
    assert key_line("") == ""
