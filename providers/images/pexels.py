"""Footage providers `pexels` (stock videos) and `pexels-photos` (stock photos) from the Pexels API.

    GET {PEXELS_BASE_URL}/videos/search?query=&orientation=&per_page=   → videos[].video_files[] (renditions)
    GET {PEXELS_BASE_URL}/v1/search?query=&orientation=&per_page=       → photos[].src{original, large2x, ...}

The key goes in the `Authorization` header (PEXELS_API_KEY). Each scene query is searched in turn
until enough candidates are found; for each item the rendition closest to the frame is offered (the
smallest that covers it), with the author and page for the credits Pexels asks for.
"""

from __future__ import annotations

from typing import Any

from providers.base import Credit, Footage, ImageRequest
from providers.remote.download import get_json
from providers.remote.secrets import get_secret
from providers.remote.stock import closest_rendition, orientation, rank_footage
from providers.settings import get_settings

__all__ = ["PexelsPhotos", "PexelsVideos"]

LICENCE = "Pexels License (free to use; credit appreciated)"
PER_PAGE = 15
ENOUGH = 4  # candidates per scene before the next query is not searched
# Pexels' fixed photo sizes (src keys) as boxes the picture is fitted into: (width, height)
_PHOTO_BOXES = {"large2x": (1880, 1300), "large": (940, 650), "medium": (10**6, 350)}


class _Pexels:
    kind = "clip"
    path = "/videos/search"

    def __init__(self, model: str = "", *, api_key: str | None = None, **_: Any) -> None:
        settings = get_settings()
        self._key = api_key or get_secret(settings.pexels_api_key, "PEXELS_API_KEY", "pexels-api-key",
                                          "the Pexels API key")
        self.base_url = settings.pexels_base_url.rstrip("/")
        self.timeout = settings.footage_timeout

    def search(self, request: ImageRequest) -> list[Footage]:
        """Candidates for the scene, best first: each query in turn until enough are found."""
        found: list[Footage] = []
        for query in request.queries or (request.title,):
            answer = get_json(
                self.base_url + self.path, "Pexels", timeout=self.timeout, key_variable="PEXELS_API_KEY",
                params={"query": query, "orientation": orientation(request.width, request.height),
                        "per_page": PER_PAGE},
                headers={"Authorization": self._key}, secrets=(self._key,),
            )
            found += self._items(answer, request, query)
            if len(found) >= ENOUGH:
                break
        return rank_footage(found, request.seconds)

    def _items(self, answer: Any, request: ImageRequest, query: str) -> list[Footage]:
        raise NotImplementedError


class PexelsVideos(_Pexels):
    """Footage provider `pexels`: stock video clips."""

    def _items(self, answer: Any, request: ImageRequest, query: str) -> list[Footage]:
        items = []
        for video in answer.get("videos") or [] if isinstance(answer, dict) else []:
            files = [(int(f.get("width") or 0), int(f.get("height") or 0), f) for f in video.get("video_files") or []
                     if str(f.get("file_type", "video/mp4")).startswith("video/") and f.get("link")]
            best = closest_rendition(files, request.width, request.height)
            if best is None:
                continue
            width, height, file = best
            user = video.get("user") or {}
            items.append(Footage(
                key=f"pexels-video:{video.get('id')}", kind="clip", url=str(file["link"]), width=width,
                height=height, seconds=float(video.get("duration") or 0), fps=float(file.get("fps") or 0),
                credit=Credit(source="Pexels", author=str(user.get("name") or ""), page_url=str(video.get("url") or ""),
                              licence=LICENCE),
                why=f"Pexels video for '{query}'",
            ))
        return items


class PexelsPhotos(_Pexels):
    """Footage provider `pexels-photos`: stock photos."""

    kind = "image"
    path = "/v1/search"

    def _items(self, answer: Any, request: ImageRequest, query: str) -> list[Footage]:
        items = []
        for photo in answer.get("photos") or [] if isinstance(answer, dict) else []:
            src = photo.get("src") or {}
            w, h = int(photo.get("width") or 0), int(photo.get("height") or 0)
            sizes = [(w, h, str(src["original"]))] if src.get("original") else []
            for name, (bw, bh) in _PHOTO_BOXES.items():
                if src.get(name) and w and h:
                    fit = min(1.0, bw / w, bh / h)
                    sizes.append((round(w * fit), round(h * fit), str(src[name])))
            best = closest_rendition(sizes, request.width, request.height)
            if best is None:
                continue
            items.append(Footage(
                key=f"pexels-photo:{photo.get('id')}", kind="image", url=best[2], width=best[0], height=best[1],
                credit=Credit(source="Pexels", author=str(photo.get("photographer") or ""),
                              page_url=str(photo.get("url") or ""), licence=LICENCE),
                why=f"Pexels photo for '{query}'",
            ))
        return items
