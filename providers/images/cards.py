"""Local images: drawn title cards (Pillow) with a palette derived from the brief.

Cards are drawn at the requested size with the title and a short line of the scene's text, sized
for the aspect so that they stay legible in 16:9, 9:16 and 1:1. Glyphs come from the font fallback
chain; text no font covers is drawn as boxes, never an error.
"""

from __future__ import annotations

import colorsys
import hashlib
import random
import textwrap
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFilter

from providers.base import ImageRequest
from providers.media.files import atomic_path
from providers.media.fonts import font_for

__all__ = ["CardPainter", "palette"]


def palette(key: str) -> tuple[tuple[int, int, int], tuple[int, int, int], tuple[int, int, int]]:
    """Background-dark, background-light and accent colours derived from `key`."""
    hue = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF

    def rgb(h: float, lightness: float, saturation: float) -> tuple[int, int, int]:
        r, g, b = colorsys.hls_to_rgb(h % 1.0, lightness, saturation)
        return int(r * 255), int(g * 255), int(b * 255)

    return rgb(hue, 0.16, 0.55), rgb(hue + 0.08, 0.32, 0.6), rgb(hue + 0.5, 0.62, 0.75)


def _wrap(draw: ImageDraw.ImageDraw, text: str, size: int, max_width: int, max_lines: int) -> tuple[list[str], Any]:
    """Wrap `text` into at most `max_lines` lines that fit `max_width`, shrinking the font if needed."""
    while True:
        font = font_for(text, size)
        avg = max(1.0, draw.textlength("abcdefghij", font=font) / 10)
        lines = textwrap.wrap(text, width=max(4, int(max_width / avg))) or [""]
        fits = all(draw.textlength(line, font=font) <= max_width for line in lines)
        if (len(lines) <= max_lines and fits) or size <= 12:
            if len(lines) > max_lines:
                lines = lines[:max_lines]
                lines[-1] = lines[-1].rstrip(" .,;") + "…"
            return lines, font
        size = int(size * 0.9)


class CardPainter:
    """Image provider `local` / `cards`: offline, deterministic."""

    def __init__(self, model: str = "", **_: Any) -> None:
        self.model = model

    def generate(self, request: ImageRequest, out_path: Path) -> Path:
        """Draw the card for `request` into a PNG at `out_path`."""
        w, h = request.width, request.height
        dark, light, accent = palette(request.palette_key or request.prompt)
        rng = random.Random(request.seed)
        # vertical gradient, drawn small and scaled up: smooth and fast
        grad = Image.new("RGB", (1, 256))
        for y in range(256):
            t = y / 255
            grad.putpixel((0, y), tuple(int(dark[i] * (1 - t) + light[i] * t) for i in range(3)))
        img = grad.resize((w, h), Image.Resampling.BICUBIC)
        # soft shapes so that the slow zoom has something to move
        shapes = Image.new("RGBA", (w, h), (0, 0, 0, 0))
        sd = ImageDraw.Draw(shapes)
        for _ in range(7):
            r = rng.uniform(0.08, 0.3) * min(w, h)
            cx, cy = rng.uniform(0, w), rng.uniform(0, h)
            alpha = rng.randint(30, 70)
            sd.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(*accent, alpha))
        shapes = shapes.filter(ImageFilter.GaussianBlur(min(w, h) / 40))
        img = Image.alpha_composite(img.convert("RGBA"), shapes)
        draw = ImageDraw.Draw(img)
        portrait = h > w
        margin = int(w * (0.09 if portrait else 0.08))
        max_width = w - 2 * margin
        title_size = int(min(w, h) * (0.085 if portrait else 0.09))
        lines, font = _wrap(draw, request.title, title_size, max_width, 3 if portrait else 2)
        body_text = request.text.split(". ")[0].strip()
        body_lines, body_font = (
            _wrap(draw, body_text, int(title_size * 0.45), max_width, 3) if body_text else ([], None)
        )
        line_h = int(title_size * 1.2)
        body_h = int(title_size * 0.45 * 1.35)
        block = len(lines) * line_h + (len(body_lines) * body_h + line_h // 2 if body_lines else 0)
        y = (h - block) // 2
        bar_w = max(4, w // 160)
        draw.rectangle((margin - 3 * bar_w, y, margin - 2 * bar_w, y + block), fill=accent)
        for line in lines:
            draw.text((margin + 2, y + 3), line, font=font, fill=(0, 0, 0, 140))
            draw.text((margin, y), line, font=font, fill=(255, 255, 255))
            y += line_h
        y += line_h // 2
        for line in body_lines:
            draw.text((margin, y), line, font=body_font, fill=(235, 235, 235))
            y += body_h
        with atomic_path(out_path) as tmp:
            img.convert("RGB").save(tmp, format="PNG", optimize=False, compress_level=1)
        return out_path
