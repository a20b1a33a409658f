"""Caption images: one transparent PNG per caption cue, drawn with Pillow and the font fallback chain."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

from providers.files import atomic_path
from providers.fonts import font_for

__all__ = ["caption_box", "draw_caption"]


def caption_box(width: int, height: int) -> tuple[int, int, int]:
    """(font size, maximum text width, bottom margin) for captions in a frame of this size."""
    short = min(width, height)
    portrait = height > width
    size = max(12, int(short * (0.055 if portrait else 0.05)))
    max_width = int(width * (0.84 if portrait else 0.8))
    bottom = int(height * (0.14 if portrait else 0.07))  # safe margin above platform UI in 9:16
    return size, max_width, bottom


def _lines(draw: ImageDraw.ImageDraw, text: str, font: object, max_width: int) -> list[str]:
    words = text.split()
    if len(words) <= 1 and draw.textlength(text, font=font) > max_width:  # type: ignore[arg-type]
        # scripts without spaces (CJK) wrap by character
        words = list(text)
    lines: list[str] = []
    current = ""
    joiner = "" if words == list(text) else " "
    for word in words:
        trial = f"{current}{joiner}{word}" if current else word
        if draw.textlength(trial, font=font) <= max_width or not current:  # type: ignore[arg-type]
            current = trial
        else:
            lines.append(current)
            current = word
    if current:
        lines.append(current)
    return lines[:3]


def draw_caption(text: str, width: int, height: int, out_path: Path, highlight: int | None = None) -> tuple[int, int]:
    """Draw `text` on a translucent box into `out_path`; return the (x, y) where it goes in the frame.

    With `highlight`, the word at that index is drawn in the accent colour (word-by-word captions).
    """
    size, max_width, bottom = caption_box(width, height)
    probe = ImageDraw.Draw(Image.new("RGBA", (1, 1)))
    font = font_for(text, size)
    lines = _lines(probe, text, font, max_width)
    line_h = int(size * 1.3)
    pad = int(size * 0.4)
    text_w = max(int(probe.textlength(line, font=font)) for line in lines)  # type: ignore[arg-type]
    box_w, box_h = text_w + 2 * pad, len(lines) * line_h + 2 * pad
    img = Image.new("RGBA", (box_w, box_h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    draw.rounded_rectangle((0, 0, box_w - 1, box_h - 1), radius=pad, fill=(0, 0, 0, 150))
    word_index = 0
    for row, line in enumerate(lines):
        y = pad + row * line_h
        x = pad + (text_w - int(draw.textlength(line, font=font))) // 2  # type: ignore[arg-type]
        if highlight is None:
            draw.text((x, y), line, font=font, fill=(255, 255, 255, 255))
            continue
        for word in line.split(" "):
            colour = (255, 214, 0, 255) if word_index == highlight else (255, 255, 255, 255)
            draw.text((x, y), word, font=font, fill=colour)
            x += int(draw.textlength(word + " ", font=font))  # type: ignore[arg-type]
            word_index += 1
    with atomic_path(out_path) as tmp:
        img.save(tmp, format="PNG", compress_level=1)
    return (width - box_w) // 2, height - bottom - box_h
