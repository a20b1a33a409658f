"""Caption pictures: safe margins per shape, wrapping, right-to-left order, and the karaoke highlight."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from providers.base import CaptionCue, WordTiming
from providers.media.caption_art import (
    HIGHLIGHT,
    caption_spans,
    draw_caption,
    layout_caption,
    render_caption,
    safe_margins,
)

LONG = "Bees dance in the dark to tell their sisters where the best flowers are today"


@pytest.mark.parametrize(("width", "height"), [(1280, 720), (1080, 1920), (1080, 1080), (160, 90)])
def test_captions_stay_inside_the_safe_area(width: int, height: int) -> None:
    side, bottom = safe_margins(width, height)
    layout = layout_caption(LONG, width, height)
    assert layout.x >= side - 1 and layout.x + layout.box_width <= width - side + 1
    assert layout.y + layout.box_height <= height - bottom
    assert layout.y >= 0


def test_vertical_video_keeps_captions_above_the_bottom_fifth() -> None:
    layout = layout_caption("How honeybees communicate", 1080, 1920)
    assert layout.y + layout.box_height <= 1920 * 0.8


def test_long_text_wraps_into_even_lines_and_shrinks_rather_than_dropping_words() -> None:
    layout = layout_caption(LONG, 1280, 720)
    rows = sorted({w.y for w in layout.words})
    assert len(rows) == 2
    assert [w.text for w in layout.words] == LONG.split()  # every word kept, in order
    too_long = " ".join([LONG] * 3)
    shrunk = layout_caption(too_long, 1280, 720)
    assert len({w.y for w in shrunk.words}) <= 2 and shrunk.font_size < layout.font_size
    assert len(shrunk.words) == len(too_long.split())


def test_text_without_spaces_wraps_by_character_and_keeps_word_numbers() -> None:
    layout = layout_caption("蜜蜂通过跳舞来告诉同伴花朵在哪里", 320, 320, words=["蜜蜂通过跳舞来告诉同伴花朵在哪里"])
    assert len(layout.words) >= 2 and {w.index for w in layout.words} == {0}


def test_right_to_left_text_starts_at_the_right() -> None:
    layout = layout_caption("النحل يرقص ليخبر", 1280, 720, words=["النحل", "يرقص", "ليخبر"])
    xs = [w.x for w in layout.words]
    assert layout.rtl and xs == sorted(xs, reverse=True)


def _yellow(img: Image.Image) -> np.ndarray:
    a = np.asarray(img.convert("RGBA")).astype(int)
    r, g, b = HIGHLIGHT[:3]
    return (abs(a[..., 0] - r) < 40) & (abs(a[..., 1] - g) < 40) & (a[..., 2] < 80) & (a[..., 3] > 200)


def test_karaoke_highlights_only_the_current_word() -> None:
    layout = layout_caption("Bees dance well", 640, 360, words=["Bees", "dance", "well"])
    for index, word in enumerate(layout.words):
        mask = _yellow(render_caption(layout, highlight=index))
        ys, xs = np.nonzero(mask)
        assert len(xs) > 20
        assert word.x - 2 <= xs.min() and xs.max() <= word.x + word.width + 2  # inside that word only
    assert not _yellow(render_caption(layout)).any()


def test_draw_caption_writes_a_png_and_returns_its_place(tmp_path: Path) -> None:
    x, y = draw_caption("Hello bees", 320, 180, tmp_path / "c.png")
    with Image.open(tmp_path / "c.png") as img:
        assert img.mode == "RGBA" and x + img.width <= 320 and y + img.height <= 180


def test_karaoke_spans_follow_the_words_without_gaps() -> None:
    words = (WordTiming(word="a", start=0.2, end=0.4), WordTiming(word="b", start=0.6, end=0.8))
    cue = CaptionCue(start=0.2, end=1.0, text="a b", words=words)
    assert caption_spans(cue, "karaoke") == [(0, 0.2, 0.6), (1, 0.6, 1.0)]
    assert caption_spans(cue, "phrase") == [(None, 0.2, 1.0)]
