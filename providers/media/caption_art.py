"""Caption images: one transparent PNG per caption (or per spoken word, for karaoke), drawn with Pillow.

The layout is computed once per caption (`layout_caption`): font size for the frame, safe margins for
the frame's shape, lines wrapped at word boundaries (at characters for scripts written without
spaces), right-to-left order for Arabic and Hebrew, and a smaller font when the text would not fit
in the allowed lines. Every word keeps its place in that layout, so the karaoke images of one phrase
differ only in which word is highlighted. Glyphs come from the font fallback chain (`providers.media.fonts`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, features

from providers.base import CaptionCue
from providers.media.files import atomic_path
from providers.media.fonts import font_for, is_rtl

__all__ = ["HIGHLIGHT", "CaptionLayout", "PlacedWord", "caption_box", "caption_spans", "draw_caption", "join_tokens",
           "layout_caption", "render_caption", "safe_margins", "save_png"]

TEXT = (255, 255, 255, 255)
HIGHLIGHT = (255, 214, 0, 255)
BOX = (0, 0, 0, 160)
OUTLINE = (0, 0, 0, 255)
_SHAPING = bool(features.check_feature("raqm"))  # right-to-left shaping needs libraqm


def safe_margins(width: int, height: int) -> tuple[int, int]:
    """(side, bottom) margins in pixels that keep captions clear of players' and apps' own UI.

    9:16 keeps well above the bottom fifth (captions, buttons and the progress bar of Shorts, TikTok
    and Reels) and inside the right-hand button column; 16:9 stays inside the title-safe area.
    """
    if height > width * 1.2:  # portrait
        return int(width * 0.12), int(height * 0.2)
    if width > height * 1.2:  # landscape
        return int(width * 0.1), int(height * 0.08)
    return int(width * 0.09), int(height * 0.1)


def caption_box(width: int, height: int) -> tuple[int, int, int]:
    """(font size, maximum text width, bottom margin) for captions in a frame of this size."""
    side, bottom = safe_margins(width, height)
    if height > width * 1.2:
        size = width * 0.065
    elif width > height * 1.2:
        size = height * 0.05
    else:
        size = width * 0.055
    return max(10, int(size)), width - 2 * side, bottom


@dataclass(frozen=True)
class PlacedWord:
    """One word of a caption and where it is drawn, in the caption image's own pixels."""

    text: str
    x: int
    y: int
    width: int
    index: int  # the spoken word this is (a word too wide for a line is placed in several pieces)


@dataclass(frozen=True)
class CaptionLayout:
    """A caption laid out for one frame size: its image size, where it goes, and each word's place."""

    text: str
    font_size: int
    box_width: int
    box_height: int
    x: int  # top-left corner in the frame
    y: int
    words: tuple[PlacedWord, ...]
    rtl: bool
    font: Any  # the Pillow font the words are measured with


def _is_cjk(ch: str) -> bool:
    c = ord(ch)
    return 0x2E80 <= c <= 0x9FFF or 0xAC00 <= c <= 0xD7AF or 0xF900 <= c <= 0xFAFF or 0xFF00 <= c <= 0xFFEF


def _tokens(text: str, words: list[str] | None) -> list[str]:
    return [w for w in (words if words is not None else text.split()) if w.strip()] or [text.strip() or " "]


def _wrap(tokens: list[str], font: Any, max_width: int, draw: ImageDraw.ImageDraw) -> list[list[tuple[int, str]]]:
    """Greedy wrap into lines of (word index, text); a word wider than a line is split by character."""
    def width(s: str) -> float:
        return draw.textlength(s, font=font)

    pieces: list[tuple[int, str]] = []
    for index, token in enumerate(tokens):
        if width(token) <= max_width:
            pieces.append((index, token))
            continue
        chunk = ""
        for ch in token:
            if chunk and width(chunk + ch) > max_width:
                pieces.append((index, chunk))
                chunk = ""
            chunk += ch
        pieces.append((index, chunk))
    lines: list[list[tuple[int, str]]] = [[]]
    for piece in pieces:
        trial = _join([t for _, t in lines[-1]] + [piece[1]])
        if lines[-1] and width(trial) > max_width:
            lines.append([piece])
        else:
            lines[-1].append(piece)
    return lines


def _balanced(tokens: list[str], font: Any, max_width: int, count: int,
              draw: ImageDraw.ImageDraw) -> list[list[tuple[int, str]]]:
    """The narrowest wrap into `count` lines, so that lines come out even (no one-word last line)."""
    lo, hi = max_width // (count + 1), max_width
    best = _wrap(tokens, font, max_width, draw)
    while hi - lo > 4:
        mid = (lo + hi) // 2
        trial = _wrap(tokens, font, mid, draw)
        if len(trial) <= count:
            best, hi = trial, mid
        else:
            lo = mid
    return best


def _gap(left: str, right: str) -> str:
    # no space between words of scripts written without spaces
    return "" if left and right and _is_cjk(left[-1]) and _is_cjk(right[0]) else " "


def join_tokens(tokens: list[str]) -> str:
    """Words joined as a line of caption text: with spaces, except between CJK characters."""
    return _join(tokens)


def _join(tokens: list[str]) -> str:
    out = ""
    for token in tokens:
        out = f"{out}{_gap(out, token)}{token}" if out else token
    return out


def layout_caption(text: str, width: int, height: int, words: list[str] | None = None,
                   max_lines: int | None = None) -> CaptionLayout:
    """Lay out `text` (as `words`, when given: one placed word per spoken word) for a frame of this size."""
    size, max_width, bottom = caption_box(width, height)
    max_lines = max_lines or (3 if height > width * 1.2 else 2)
    tokens = _tokens(text, words)
    probe = ImageDraw.Draw(Image.new("RGBA", (1, 1)))
    rtl = is_rtl(text)
    while True:
        font = font_for(text, size)
        pad = int(size * 0.4)
        text_room = max_width - 2 * pad  # the box, padding included, stays inside the safe area
        lines = _wrap(tokens, font, text_room, probe)
        if len(lines) <= max_lines or size <= 10:
            break
        size = max(10, int(size * 0.9))
    lines = _balanced(tokens, font, text_room, len(lines), probe)
    ascent, descent = font.getmetrics() if hasattr(font, "getmetrics") else (size, size // 4)
    line_h = int((ascent + descent) * 1.05)
    space = probe.textlength(" ", font=font)
    line_widths = [probe.textlength(_join([t for _, t in line]), font=font) for line in lines]
    text_w = int(max(line_widths))
    placed: list[PlacedWord] = []
    for row, (line, line_w) in enumerate(zip(lines, line_widths, strict=True)):
        y = pad + row * line_h
        cursor = pad + (text_w - line_w) / 2
        # right-to-left text: the first word sits at the right end of the line
        order = list(reversed(line)) if rtl else line
        for i, (index, token) in enumerate(order):
            w = probe.textlength(token, font=font)
            placed.append(PlacedWord(token, int(round(cursor)), y, int(round(w)), index))
            if i + 1 < len(order):
                cursor += w + (space if _gap(token, order[i + 1][1]) else 0)
        if rtl:  # keep reading order in `words`
            placed[len(placed) - len(order):] = reversed(placed[len(placed) - len(order):])
    box_w, box_h = text_w + 2 * pad, len(lines) * line_h + 2 * pad
    x = (width - box_w) // 2
    y = height - bottom - box_h
    return CaptionLayout(text, size, box_w, box_h, x, y, tuple(placed), rtl, font)


def render_caption(layout: CaptionLayout, highlight: int | None = None) -> Image.Image:
    """The caption image for `layout`, with spoken word number `highlight` in the accent colour."""
    img = Image.new("RGBA", (layout.box_width, layout.box_height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    pad = int(layout.font_size * 0.4)
    draw.rounded_rectangle((0, 0, layout.box_width - 1, layout.box_height - 1), radius=pad, fill=BOX)
    stroke = max(1, layout.font_size // 16)
    for word in layout.words:
        colour = HIGHLIGHT if word.index == highlight else TEXT
        draw.text((word.x, word.y), word.text, font=layout.font, fill=colour, stroke_width=stroke,
                  stroke_fill=OUTLINE, direction="rtl" if _SHAPING and is_rtl(word.text) else None)
    return img


def draw_caption(text: str, width: int, height: int, out_path: Path, highlight: int | None = None,
                 words: list[str] | None = None) -> tuple[int, int]:
    """Draw `text` on a translucent box into `out_path`; return the (x, y) where it goes in the frame.

    With `highlight`, the word at that index is drawn in the accent colour (word-by-word captions).
    """
    layout = layout_caption(text, width, height, words)
    save_png(render_caption(layout, highlight), out_path)
    return layout.x, layout.y


def save_png(img: Image.Image, out_path: Path) -> Path:
    """Write `img` as a PNG atomically (fast compression: these files live for one render)."""
    with atomic_path(out_path) as tmp:
        img.save(tmp, format="PNG", compress_level=1)
    return out_path


def caption_spans(cue: CaptionCue, style: str) -> list[tuple[int | None, float, float]]:
    """(highlighted word or None, start, end) for each picture of a cue: one, or one per word for karaoke.

    A karaoke word stays highlighted until the next word starts, so the highlight never blinks off
    between words.
    """
    if style != "karaoke" or not cue.words:
        return [(None, cue.start, cue.end)]
    spans: list[tuple[int | None, float, float]] = []
    for j, word in enumerate(cue.words):
        start = cue.start if j == 0 else max(cue.start, word.start)
        end = cue.words[j + 1].start if j + 1 < len(cue.words) else cue.end
        spans.append((j, start, min(end, cue.end)))
    return spans
