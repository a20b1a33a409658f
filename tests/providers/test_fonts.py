"""The font fallback chain: Cyrillic, CJK and Arabic get real glyphs, and nothing breaks without system fonts."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from PIL import Image, ImageDraw

from providers.media import fonts
from providers.media.fonts import (
    BUNDLED_FONT,
    candidate_fonts,
    font_for,
    font_path_for,
    is_rtl,
    missing_glyphs,
    scripts_of,
)

SAMPLES = {
    "cyrillic": "Пчёлы танцуют",
    "cjk": "蜜蜂跳舞告诉同伴",
    "arabic": "النحل يرقص",
}


def _distinct_glyphs(text: str) -> int:
    """How many different bitmaps the characters of `text` draw as (tofu boxes all look the same)."""
    font = font_for(text, 32)
    shapes = set()
    for ch in {c for c in text if not c.isspace()}:
        img = Image.new("L", (48, 48))
        ImageDraw.Draw(img).text((4, 4), ch, font=font, fill=255)
        shapes.add(img.tobytes())
    return len(shapes)


@pytest.fixture
def no_system_fonts(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A machine with no fonts installed: a plain `pip install` in a slim container."""
    monkeypatch.delenv("AURA_FONT", raising=False)
    monkeypatch.setattr(fonts, "_PATTERNS", [])
    monkeypatch.setattr(fonts, "_SCRIPT_PATTERNS", {})
    candidate_fonts.cache_clear()
    fonts._warn_missing.cache_clear()
    yield
    candidate_fonts.cache_clear()


def test_scripts_and_direction() -> None:
    assert scripts_of(SAMPLES["cjk"]) == {"cjk"} and scripts_of(SAMPLES["arabic"]) == {"arabic"}
    assert scripts_of("Hello Привет") == set()
    assert is_rtl(SAMPLES["arabic"]) and not is_rtl("abc النحل")


@pytest.mark.parametrize("script", list(SAMPLES))
def test_each_script_finds_a_font_that_draws_it(script: str) -> None:
    text = SAMPLES[script]
    path = font_path_for(text)
    if script == "cjk" and missing_glyphs(text):
        pytest.skip("no CJK font installed here (CI installs fonts-noto-cjk)")
    assert path is not None and missing_glyphs(text) == ""
    assert _distinct_glyphs(text) == len({c for c in text if not c.isspace()})


def test_script_fonts_are_preferred_when_installed() -> None:
    path = font_path_for(SAMPLES["arabic"])
    assert path is not None
    if any("Arabic" in p.name for p in candidate_fonts(frozenset({"arabic"}))):
        assert "Arabic" in path.name


def test_the_bundled_font_covers_latin_cyrillic_and_arabic_without_system_fonts(no_system_fonts: None) -> None:
    for text in ("Hello, bees!", SAMPLES["cyrillic"], SAMPLES["arabic"]):
        assert font_path_for(text) == BUNDLED_FONT
        assert missing_glyphs(text) == ""


def test_cjk_without_a_cjk_font_degrades_with_a_warning(no_system_fonts: None,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="providers.media.fonts"):
        font = font_for(SAMPLES["cjk"], 24)
    assert font is not None and missing_glyphs(SAMPLES["cjk"]) == SAMPLES["cjk"]
    assert "fonts-noto-cjk" in caplog.text


def test_aura_font_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AURA_FONT", str(BUNDLED_FONT))
    candidate_fonts.cache_clear()
    try:
        assert font_path_for("plain text") == BUNDLED_FONT
    finally:
        candidate_fonts.cache_clear()
