"""Footage provider `media:DIR`: the user's own clips and pictures, matched to each scene by their words.

Each file is described by the words of its name, of the folders it sits in below DIR, and of an
optional sidecar text file beside it (`beach.mp4` + `beach.txt`, or `beach.mp4.txt`). A scene is
matched by its footage queries (weighted double) and the content words of its narration, scored
like a tiny search engine (words rare in the folder count more, BM25-style). Every file is offered,
best match first, so that a folder with fewer files than scenes still gives every scene a visual;
the stage uses each file once while unused ones remain. `why` says which words matched.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import av
from PIL import Image, UnidentifiedImageError

from providers.base import Credit, Footage, ImageRequest
from providers.errors import ConfigurationError

__all__ = ["CLIP_SUFFIXES", "IMAGE_SUFFIXES", "MediaFolder", "describe", "media_folder_allowed", "words"]

# `MediaFolder.fingerprint()` changes when a file is added, removed, renamed or replaced (or its sidecar),
# so that a cached choice of footage is made again for a folder that changed

CLIP_SUFFIXES = frozenset({".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts"})
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"})
MAX_FILES = 5000
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
# the commonest English function words; rarer common words are discounted by the scoring itself
_STOPWORDS_TEXT = """a an and are as at be but by for from has have he her his in into is it its of on or our
she so than that the their them then there these they this those to was we were what when which who will with
you your img dsc mov vid pxl"""
_STOPWORDS = frozenset(_STOPWORDS_TEXT.split())


def words(text: str) -> list[str]:
    """Lower-case content words of `text` (file names split on _ - . and camelCase too)."""
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", unicodedata.normalize("NFC", text))
    found = [w.lower() for w in _WORD.findall(text)]
    return [w for w in found if len(w) >= 2 and w not in _STOPWORDS]


def describe(path: Path, root: Path) -> list[str]:
    """The words that describe a media file: its name, its folders below `root`, and its sidecar text."""
    parts = [path.stem, *path.relative_to(root).parent.parts]
    for sidecar in (path.with_suffix(".txt"), path.with_name(path.name + ".txt")):
        if sidecar.is_file():
            parts.append(sidecar.read_text(encoding="utf-8", errors="replace")[:4000])
    return words(" ".join(parts))


@lru_cache(maxsize=4096)
def _probe(path: str, size: int, mtime_ns: int) -> tuple[str, int, int, float, float] | None:
    """(kind, width, height, seconds, fps) of a media file, or None when it cannot be read."""
    if Path(path).suffix.lower() in IMAGE_SUFFIXES:
        try:
            with Image.open(path) as img:
                return "image", img.width, img.height, 0.0, 0.0
        except (UnidentifiedImageError, OSError, ValueError):
            return None
    try:
        with av.open(path) as container:
            if not container.streams.video:
                return None
            stream = container.streams.video[0]
            seconds = float(container.duration or 0) / av.time_base
            if stream.duration and stream.time_base:
                seconds = float(stream.duration * stream.time_base)
            fps = float(stream.average_rate or 0)
            return "clip", stream.codec_context.width, stream.codec_context.height, seconds, fps
    except (av.FFmpegError, UnicodeDecodeError, ValueError):
        return None


def media_folder_allowed(folder: str, roots: Sequence[Path]) -> bool:
    """True when `folder` (links resolved) is one of `roots` or inside one; no roots: none is allowed."""
    if not folder:
        return False
    target = Path(folder).expanduser().resolve()
    return any(target.is_relative_to(Path(root).expanduser().resolve()) for root in roots)


def _score(query: Counter[str], doc: list[str], df: Counter[str], n: int, avg: float) -> float:
    tf = Counter(doc)
    score = 0.0
    for word, weight in query.items():
        if tf[word]:
            idf = math.log(1 + (n - df[word] + 0.5) / (df[word] + 0.5))
            score += weight * idf * tf[word] * 2.2 / (tf[word] + 1.2 * (0.25 + 0.75 * len(doc) / max(avg, 1)))
    return score


class MediaFolder:
    """Footage provider `media:DIR`: the best-matching files of the user's folder."""

    def __init__(self, model: str = "", **_: Any) -> None:
        if not model:
            raise ConfigurationError("the media provider needs a folder: use media:DIR (or --media DIR)")
        self.root = Path(model).expanduser().resolve()
        if not self.root.is_dir():
            raise ConfigurationError(f"the media folder {self.root} does not exist: check --media")

    def files(self) -> list[Path]:
        """The folder's clips and pictures (sidecar texts and hidden files left out), in name order."""
        found = sorted(p for p in self.root.rglob("*") if p.is_file() and p.suffix.lower() in
                       CLIP_SUFFIXES | IMAGE_SUFFIXES and not any(part.startswith(".") for part in
                                                                  p.relative_to(self.root).parts))
        return found[:MAX_FILES]

    def fingerprint(self) -> str:
        """A digest of the folder's media and sidecar files (names, sizes, modification times)."""
        entries = []
        for path in sorted(self.root.rglob("*")):
            if path.is_file() and path.suffix.lower() in CLIP_SUFFIXES | IMAGE_SUFFIXES | {".txt"}:
                stat = path.stat()
                entries.append(f"{path.relative_to(self.root).as_posix()}\t{stat.st_size}\t{stat.st_mtime_ns}")
        return hashlib.sha256("\n".join(entries).encode()).hexdigest()[:16]

    def search(self, request: ImageRequest) -> list[Footage]:
        """Every readable file of the folder, best match for the scene first."""
        query: Counter[str] = Counter()
        for q in request.queries:
            query.update({w: 2 for w in words(q)})
        query.update(words(request.text))
        docs = []
        for path in self.files():
            stat = path.stat()
            info = _probe(str(path), stat.st_size, stat.st_mtime_ns)
            if info is not None:
                docs.append((path, info, describe(path, self.root)))
        if not docs:
            raise ConfigurationError(f"the media folder {self.root} holds no readable clips or pictures")
        df = Counter(w for _, _, doc in docs for w in set(doc))
        avg = sum(len(doc) for _, _, doc in docs) / len(docs)
        scored = []
        for order, (path, (kind, width, height, seconds, fps), doc) in enumerate(docs):
            score = _score(query, doc, df, len(docs), avg)
            matched = sorted(set(query) & set(doc))
            why = f"matched {', '.join(repr(w) for w in matched)}" if matched else "no words matched"
            rel = path.relative_to(self.root).as_posix()
            scored.append((-score, order, Footage(
                key=f"media:{rel}", kind=kind, url=str(path), width=width, height=height, seconds=seconds,
                fps=fps, credit=Credit(source="your media", page_url=rel), why=f"{rel}: {why}")))
        return [item for _, _, item in sorted(scored, key=lambda s: (s[0], s[1]))]
