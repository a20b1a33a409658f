"""Font look-up with a fallback chain, so that Latin, Cyrillic, CJK and Arabic text all find glyphs.

Candidates are, in order: the font named by `AURA_FONT`, common system fonts (DejaVu, Noto, CJK),
then Pillow's built-in scalable font. The first font whose character map covers the whole text
wins; if none does, the one covering the most characters is used, so drawing never fails.
"""

from __future__ import annotations

import glob
import os
from functools import lru_cache
from pathlib import Path

from fontTools.ttLib import TTCollection, TTFont, TTLibError
from PIL import ImageFont

__all__ = ["candidate_fonts", "font_for", "font_path_for"]

_PATTERNS = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Bold.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
    "/usr/share/fonts/truetype/noto/NotoSansArabic-Bold.ttf",
    "/usr/share/fonts/truetype/noto/NotoSansArabic-Regular.ttf",
    "/usr/share/fonts/truetype/noto/NotoNaskhArabic-Regular.ttf",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/liberation*/LiberationSans-Bold.ttf",
    "/usr/share/fonts/**/*.tt[fc]",
    "/usr/share/fonts/**/*.otf",
]


@lru_cache(maxsize=1)
def candidate_fonts() -> tuple[Path, ...]:
    """Font files to try, best first, without duplicates."""
    found: list[Path] = []
    override = os.environ.get("AURA_FONT")
    if override and Path(override).is_file():
        found.append(Path(override))
    for pattern in _PATTERNS:
        for name in sorted(glob.glob(pattern, recursive=True)):
            path = Path(name)
            if path not in found:
                found.append(path)
    return tuple(found)


@lru_cache(maxsize=64)
def _codepoints(path: Path) -> frozenset[int]:
    try:
        if path.suffix.lower() == ".ttc":
            fonts = TTCollection(str(path), lazy=True).fonts[:1]
        else:
            fonts = [TTFont(str(path), lazy=True, fontNumber=0)]
        cmap = fonts[0].getBestCmap() or {}
        return frozenset(cmap)
    except (OSError, TTLibError, KeyError, ValueError):  # a broken font file is skipped, not fatal
        return frozenset()


def font_path_for(text: str) -> Path | None:
    """The best font file for `text`, or None when only Pillow's built-in font is left."""
    needed = {ord(ch) for ch in text if not ch.isspace()}
    best: tuple[int, Path | None] = (-1, None)
    for path in candidate_fonts():
        covered = len(needed & _codepoints(path))
        if covered == len(needed):
            return path
        if covered > best[0]:
            best = (covered, path)
    latin = {c for c in needed if c < 0x250}
    if best[1] is None or (len(latin) == len(needed) and best[0] < len(needed)):
        return None
    return best[1]


@lru_cache(maxsize=256)
def _load(path: Path | None, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if path is None:
        return ImageFont.load_default(size)
    return ImageFont.truetype(str(path), size)


def font_for(text: str, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """A Pillow font at `size` pixels that can draw `text` (or as much of it as any font can)."""
    return _load(font_path_for(text), max(6, int(size)))
