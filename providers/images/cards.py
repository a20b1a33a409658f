"""Local images: drawn title cards (Pillow) with a palette derived from the brief.

Every card of a video shares the brief's background colours; each scene gets its own layout (a side
bar, centred, a lower band or a corner stripe), its own accent colour and its own line of text: the
narration's sentence with the most content, shortened. Sizes follow the frame's short side and text
wraps to the frame's width, so cards stay legible in 16:9, 9:16 and 1:1. Glyphs come from the font
fallback chain; text no font covers is drawn as boxes, never an error.
"""

from __future__ import annotations

import colorsys
import hashlib
import random
import re
import textwrap
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFilter

from providers.base import ImageRequest
from providers.media.files import atomic_path
from providers.media.fonts import font_for

__all__ = ["LAYOUTS", "CardPainter", "key_line", "palette"]


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


_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_SMALL = frozenset(re.findall(r"\S+", "a an and are as at be but by for from has have in is it its of on or so that "
                                      "the this to was we were will with you your now next let's here"))
LAYOUTS = ("bar", "centred", "band", "corner")


def key_line(text: str, words: int = 14) -> str:
    """The narration's sentence with the most content words (the first on a tie), cut to about `words` words."""
    sentences = [s.strip() for s in _SENTENCE.split(" ".join(text.split())) if s.strip()]
    if not sentences:
        return ""
    best = max(sentences, key=lambda s: (sum(w.lower().strip(".,;:!?\"'") not in _SMALL for w in s.split()), 0))
    cut = best.split()
    if len(cut) <= words:
        return best
    cut = cut[:words]
    while len(cut) > 1 and cut[-1].lower().strip(",;:") in _SMALL:  # end the cut on a word that means something
        cut.pop()
    return " ".join(cut).rstrip(" ,;:") + "…"


def _accent(base: tuple[int, int, int], seed: int) -> tuple[int, int, int]:
    """The palette's accent turned round the colour wheel by a step chosen by the scene's seed."""
    h, lightness, saturation = colorsys.rgb_to_hls(*(c / 255 for c in base))
    r, g, b = colorsys.hls_to_rgb((h + (seed % 7) * 0.09) % 1.0, max(0.55, lightness), max(0.6, saturation))
    return int(r * 255), int(g * 255), int(b * 255)


class CardPainter:
    """Image provider `local` / `cards`: offline, deterministic."""

    def __init__(self, model: str = "", **_: Any) -> None:
        self.model = model

    def generate(self, request: ImageRequest, out_path: Path) -> Path:
        """Draw the card for `request` into a PNG at `out_path`."""
        w, h = request.width, request.height
        dark, light, base_accent = palette(request.palette_key or request.prompt)
        accent = _accent(base_accent, request.seed)
        layout = LAYOUTS[request.seed % len(LAYOUTS)]
        rng = random.Random(request.seed)
        # vertical gradient, drawn small and scaled up: smooth and fast
        grad = Image.new("RGB", (1, 256))
        for y in range(256):
            t = y / 255
            grad.putpixel((0, y), tuple(int(dark[i] * (1 - t) + light[i] * t) for i in range(3)))
        img = grad.resize((w, h), Image.Resampling.BICUBIC)
        if layout in ("band", "corner"):
            img = img.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
        # soft shapes in the scene's accent so that the slow zoom has something to move
        shapes = Image.new("RGBA", (w, h), (0, 0, 0, 0))
        sd = ImageDraw.Draw(shapes)
        short = min(w, h)
        for _ in range(7):
            r = rng.uniform(0.08, 0.3) * short
            cx, cy = rng.uniform(0, w), rng.uniform(0, h)
            sd.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(*accent, rng.randint(30, 70)))
        shapes = shapes.filter(ImageFilter.GaussianBlur(short / 40))
        img = Image.alpha_composite(img.convert("RGBA"), shapes)
        overlay = Image.new("RGBA", (w, h), (0, 0, 0, 0))
        od = ImageDraw.Draw(overlay)
        portrait = h > w
        margin = int(w * (0.09 if portrait else 0.08))
        max_width = w - 2 * margin
        title_size = int(short * (0.085 if portrait else 0.09))
        draw = ImageDraw.Draw(img)
        lines, font = _wrap(draw, request.title, title_size, max_width, 3 if portrait else 2)
        body_text = key_line(request.text, 12)
        body_size = int(title_size * 0.48)
        body_lines, body_font = _wrap(draw, body_text, body_size, max_width, 3) if body_text else ([], None)
        line_h = int(title_size * 1.2)
        body_h = int(body_size * 1.35)
        block = len(lines) * line_h + (len(body_lines) * body_h + line_h // 2 if body_lines else 0)
        # the band ends above the captions' area (the bottom fifth, more in 9:16 where they wrap onto three lines)
        y = {"band": int(h * (0.64 if portrait else 0.72)) - block, "corner": int(h * 0.14)}.get(
            layout, (h - block) // 2)
        pad = int(short * 0.04)
        if layout == "band":  # a dark band behind the text, the picture above it
            od.rectangle((0, y - pad, w, y + block + pad), fill=(0, 0, 0, 120))
            od.rectangle((0, y - pad, w, y - pad + max(3, short // 120)), fill=(*accent, 255))
        elif layout == "corner":  # a diagonal stripe in the lower corner
            stripe = int(short * 0.09)
            for k in range(3):
                off = k * stripe * 1.6
                od.polygon([(w - short * 0.7 + off, h), (w + off, h - short * 0.7), (w + off + stripe, h - short * 0.7),
                            (w - short * 0.7 + off + stripe, h)], fill=(*accent, 150 - 40 * k))
        elif layout == "centred":
            od.ellipse((w / 2 - short * 0.42, h / 2 - short * 0.42, w / 2 + short * 0.42, h / 2 + short * 0.42),
                       fill=(0, 0, 0, 70))
        img = Image.alpha_composite(img, overlay)
        draw = ImageDraw.Draw(img)

        def x_of(line: str, text_font: Any) -> int:
            return int((w - draw.textlength(line, font=text_font)) / 2) if layout == "centred" else margin

        bar_w = max(4, w // 160)
        if layout == "bar":
            draw.rectangle((margin - 3 * bar_w, y, margin - 2 * bar_w, y + block), fill=accent)
        for line in lines:
            x = x_of(line, font)
            draw.text((x + 2, y + 3), line, font=font, fill=(0, 0, 0, 140))
            draw.text((x, y), line, font=font, fill=(255, 255, 255))
            y += line_h
        if layout in ("centred", "corner") and body_lines:  # an accent rule between title and text
            rule = int(short * 0.12)
            x0 = (w - rule) // 2 if layout == "centred" else margin
            draw.rectangle((x0, y + line_h // 6, x0 + rule, y + line_h // 6 + max(3, short // 150)), fill=accent)
        y += line_h // 2
        for line in body_lines:
            x = x_of(line, body_font)
            draw.text((x + 1, y + 2), line, font=body_font, fill=(0, 0, 0, 120))
            draw.text((x, y), line, font=body_font, fill=(240, 240, 240))
            y += body_h
        with atomic_path(out_path) as tmp:
            img.convert("RGB").save(tmp, format="PNG", optimize=False, compress_level=1)
        return out_path
