"""Font look-up with a fallback chain, so that Latin, Cyrillic, Greek, CJK and Arabic text all find glyphs.

Candidates, best first: the font named by `AURA_FONT`; system fonts made for the text's script (Noto
Sans CJK for Chinese, Japanese and Korean, Noto Sans/Naskh Arabic for Arabic, ...); general system
fonts (DejaVu, Noto, Liberation); the DejaVu Sans Bold bundled in `providers/assets` (Latin, Greek,
Cyrillic, Arabic: enough for a plain `pip install` with no system fonts); then Pillow's built-in
font. The first font whose character map covers the whole text wins; if none does, the one that
covers the most characters is used and a warning names the package to install, so drawing never fails.
"""

from __future__ import annotations

import glob
import logging
import os
import unicodedata
from functools import lru_cache
from pathlib import Path

from fontTools.ttLib import TTCollection, TTFont, TTLibError
from PIL import ImageFont

__all__ = ["BUNDLED_FONT", "candidate_fonts", "font_for", "font_path_for", "is_rtl", "missing_glyphs", "scripts_of"]

log = logging.getLogger(__name__)

BUNDLED_FONT = Path(__file__).parent.parent / "assets" / "DejaVuSans-Bold.ttf"

# fonts made for one script, tried first when the text uses that script
_SCRIPT_PATTERNS: dict[str, list[str]] = {
    "cjk": [
        "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
        "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
        "/usr/share/fonts/noto-cjk/NotoSansCJK-Bold.ttc",
        "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Bold.ttc",
        "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
        "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
        "/System/Library/Fonts/PingFang.ttc",
    ],
    "arabic": [
        "/usr/share/fonts/truetype/noto/NotoSansArabic-Bold.ttf",
        "/usr/share/fonts/truetype/noto/NotoNaskhArabic-Bold.ttf",
        "/usr/share/fonts/truetype/noto/NotoSansArabic-Regular.ttf",
        "/usr/share/fonts/truetype/noto/NotoNaskhArabic-Regular.ttf",
    ],
    "hebrew": ["/usr/share/fonts/truetype/noto/NotoSansHebrew-Bold.ttf"],
    "devanagari": ["/usr/share/fonts/truetype/noto/NotoSansDevanagari-Bold.ttf"],
}
# general fonts, in order; the recursive globs at the end catch whatever else is installed
_PATTERNS: list[str] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
    "/usr/share/fonts/truetype/liberation*/LiberationSans-Bold.ttf",
    "/Library/Fonts/Arial Unicode.ttf",
    "C:/Windows/Fonts/arialbd.ttf",
    "/usr/share/fonts/**/*.tt[fc]",
    "/usr/share/fonts/**/*.otf",
]
_INSTALL_HINT = {
    "cjk": "fonts-noto-cjk (Debian/Ubuntu) or google-noto-sans-cjk-fonts (Fedora)",
    "arabic": "fonts-noto-core",
    "hebrew": "fonts-noto-core",
    "devanagari": "fonts-noto-core",
}


def scripts_of(text: str) -> set[str]:
    """The scripts in `text` that want a font of their own: cjk, arabic, hebrew, devanagari."""
    found = set()
    for ch in text:
        c = ord(ch)
        if (0x2E80 <= c <= 0x9FFF or 0xAC00 <= c <= 0xD7AF or 0xF900 <= c <= 0xFAFF or 0xFF00 <= c <= 0xFFEF
                or 0x20000 <= c <= 0x3FFFF):
            found.add("cjk")
        elif 0x0600 <= c <= 0x08FF or 0xFB50 <= c <= 0xFDFF or 0xFE70 <= c <= 0xFEFF:
            found.add("arabic")
        elif 0x0590 <= c <= 0x05FF:
            found.add("hebrew")
        elif 0x0900 <= c <= 0x097F:
            found.add("devanagari")
    return found


def is_rtl(text: str) -> bool:
    """Whether `text` reads right to left (its first strong character is Arabic or Hebrew)."""
    for ch in text:
        kind = unicodedata.bidirectional(ch)
        if kind in ("R", "AL"):
            return True
        if kind == "L":
            return False
    return False


def _expand(patterns: list[str]) -> list[Path]:
    paths: list[Path] = []
    for pattern in patterns:
        for name in sorted(glob.glob(pattern, recursive=True)):
            paths.append(Path(name))
    return paths


@lru_cache(maxsize=16)
def candidate_fonts(scripts: frozenset[str] = frozenset()) -> tuple[Path, ...]:
    """Font files to try for text in `scripts`, best first, without duplicates."""
    found: list[Path] = []
    override = os.environ.get("AURA_FONT")
    if override and Path(override).is_file():
        found.append(Path(override))
    for script in sorted(scripts):
        found += _expand(_SCRIPT_PATTERNS.get(script, []))
    found += _expand(_PATTERNS)
    found.append(BUNDLED_FONT)
    unique: list[Path] = []
    for path in found:
        if path.is_file() and path not in unique:
            unique.append(path)
    return tuple(unique)


@lru_cache(maxsize=128)
def _codepoints(path: Path) -> frozenset[int]:
    try:
        if path.suffix.lower() == ".ttc":
            fonts = TTCollection(str(path), lazy=True).fonts[:1]
        else:
            fonts = [TTFont(str(path), lazy=True, fontNumber=0)]
        cmap = fonts[0].getBestCmap() or {}
        return frozenset(cmap)
    except (OSError, TTLibError, KeyError, ValueError, AssertionError):  # a broken font file is skipped
        return frozenset()


def _needed(text: str) -> set[int]:
    # joiners and direction marks are format characters that fonts need not map
    return {ord(ch) for ch in text if not ch.isspace() and unicodedata.category(ch) != "Cf"}


def font_path_for(text: str) -> Path | None:
    """The best font file for `text`, or None when only Pillow's built-in font is left."""
    needed = _needed(text)
    best: tuple[int, Path | None] = (-1, None)
    for path in candidate_fonts(frozenset(scripts_of(text))):
        covered = len(needed & _codepoints(path))
        if covered == len(needed):
            return path
        if covered > best[0]:
            best = (covered, path)
    missing = needed - (_codepoints(best[1]) if best[1] else frozenset())
    _warn_missing(frozenset(scripts_of("".join(map(chr, missing)))) or frozenset({"other"}))
    return best[1]


def missing_glyphs(text: str) -> str:
    """The characters of `text` that the chosen font cannot draw (drawn as boxes), in order."""
    path = font_path_for(text)
    covered = _codepoints(path) if path is not None else frozenset(range(0x20, 0x7F))
    return "".join(ch for ch in text if ord(ch) in _needed(ch) and ord(ch) not in covered)


@lru_cache(maxsize=16)
def _warn_missing(scripts: frozenset[str]) -> None:
    hints = sorted({_INSTALL_HINT[s] for s in scripts if s in _INSTALL_HINT})
    fix = f"install {' and '.join(hints)}" if hints else "install a font that covers them"
    log.warning("no font covers every character of the captions (%s); some will show as boxes: %s "
                "or set AURA_FONT to a font file", ", ".join(sorted(scripts)), fix)


@lru_cache(maxsize=256)
def _load(path: Path | None, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if path is None:
        return ImageFont.load_default(size)
    return ImageFont.truetype(str(path), size)


def font_for(text: str, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """A Pillow font at `size` pixels that can draw `text` (or as much of it as any font can)."""
    return _load(font_path_for(text), max(6, int(size)))
