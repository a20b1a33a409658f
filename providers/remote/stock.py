"""What the stock footage libraries share (pure): orientation, rendition choice, ranking of candidates."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TypeVar

from providers.base import Footage

__all__ = ["Rendition", "closest_rendition", "orientation", "rank_footage"]

T = TypeVar("T")
Rendition = tuple[int, int, T]  # width, height, what to fetch


def orientation(width: int, height: int) -> str:
    """landscape, portrait or square, for the frame width×height."""
    if width > height * 1.1:
        return "landscape"
    if height > width * 1.1:
        return "portrait"
    return "square"


def closest_rendition(renditions: Iterable[Rendition[T]], width: int, height: int) -> Rendition[T] | None:
    """The smallest rendition that covers the frame (no upscaling), else the largest there is.

    A 4K file is never chosen for a 720p video when an HD one exists: decoding it would cost 4K work
    for every frame.
    """
    usable = [r for r in renditions if r[0] > 0 and r[1] > 0]
    if not usable:
        return None

    def cover_scale(r: Rendition[T]) -> float:  # how much the rendition is enlarged to cover the frame
        return max(width / r[0], height / r[1])

    covering = [r for r in usable if cover_scale(r) <= 1.0001]
    if covering:
        return min(covering, key=lambda r: r[0] * r[1])
    return max(usable, key=lambda r: r[0] * r[1])


def rank_footage(found: Sequence[Footage], seconds: float) -> list[Footage]:
    """Unique candidates, clips at least `seconds` long first, otherwise in the library's order (relevance)."""
    unique: list[Footage] = []
    for item in found:
        if all(item.key != u.key for u in unique):
            unique.append(item)
    order = {item.key: i for i, item in enumerate(unique)}
    return sorted(unique, key=lambda f: (f.kind == "clip" and f.seconds < seconds, order[f.key]))
