"""Footage providers `pixabay` (stock videos) and `pixabay-photos` (stock photos) from the Pixabay API.

    GET {PIXABAY_BASE_URL}/videos/?key=&q=&per_page=               → hits[].videos{large, medium, small, tiny}
    GET {PIXABAY_BASE_URL}/?key=&q=&image_type=photo&orientation=  → hits[].webformatURL / largeImageURL

The key is a query parameter (PIXABAY_API_KEY). Pixabay answers a wrong key with HTTP 400 and
"[ERROR 400] Invalid or missing API key"; that is reported as a refused key, not a bad request.
"""

from __future__ import annotations

from typing import Any

from providers.base import Credit, Footage, ImageRequest
from providers.errors import AuthenticationError, BadRequestError
from providers.remote.download import get_json
from providers.remote.secrets import get_secret
from providers.remote.stock import closest_rendition, orientation, rank_footage
from providers.settings import get_settings

__all__ = ["PixabayPhotos", "PixabayVideos"]

LICENCE = "Pixabay Content License (free to use; credit appreciated)"
PER_PAGE = 15
ENOUGH = 4
_ORIENTATION = {"landscape": "horizontal", "portrait": "vertical", "square": "all"}


class _Pixabay:
    path = "/videos/"

    def __init__(self, model: str = "", *, api_key: str | None = None, **_: Any) -> None:
        settings = get_settings()
        self._key = api_key or get_secret(settings.pixabay_api_key, "PIXABAY_API_KEY", "pixabay-api-key",
                                          "the Pixabay API key")
        self.base_url = settings.pixabay_base_url.rstrip("/")
        self.timeout = settings.footage_timeout

    def _params(self, query: str, request: ImageRequest) -> dict[str, Any]:
        return {"key": self._key, "q": query[:100], "per_page": PER_PAGE, "safesearch": "true"}

    def search(self, request: ImageRequest) -> list[Footage]:
        """Candidates for the scene, best first: each query in turn until enough are found."""
        found: list[Footage] = []
        for query in request.queries or (request.title,):
            try:
                answer = get_json(self.base_url + self.path, "Pixabay", params=self._params(query, request),
                                  timeout=self.timeout, key_variable="PIXABAY_API_KEY", secrets=(self._key,))
            except BadRequestError as exc:
                if "key" in str(exc).lower():
                    raise AuthenticationError("Pixabay refused the credentials: check PIXABAY_API_KEY") from None
                raise
            hits = answer.get("hits") if isinstance(answer, dict) else None
            found += [item for hit in hits or [] if (item := self._item(hit, request, query)) is not None]
            if len(found) >= ENOUGH:
                break
        return rank_footage(found, request.seconds)

    def _item(self, hit: dict[str, Any], request: ImageRequest, query: str) -> Footage | None:
        raise NotImplementedError

    @staticmethod
    def _credit(hit: dict[str, Any]) -> Credit:
        return Credit(source="Pixabay", author=str(hit.get("user") or ""), page_url=str(hit.get("pageURL") or ""),
                      licence=LICENCE)


class PixabayVideos(_Pixabay):
    """Footage provider `pixabay`: stock video clips."""

    def _item(self, hit: dict[str, Any], request: ImageRequest, query: str) -> Footage | None:
        files = [(int(v.get("width") or 0), int(v.get("height") or 0), str(v["url"]))
                 for v in (hit.get("videos") or {}).values() if isinstance(v, dict) and v.get("url")]
        best = closest_rendition(files, request.width, request.height)
        if best is None:
            return None
        return Footage(key=f"pixabay-video:{hit.get('id')}", kind="clip", url=best[2], width=best[0], height=best[1],
                       seconds=float(hit.get("duration") or 0), credit=self._credit(hit),
                       why=f"Pixabay video for '{query}'")


class PixabayPhotos(_Pixabay):
    """Footage provider `pixabay-photos`: stock photos."""

    path = "/"

    def _params(self, query: str, request: ImageRequest) -> dict[str, Any]:
        return {**super()._params(query, request), "image_type": "photo",
                "orientation": _ORIENTATION[orientation(request.width, request.height)]}

    def _item(self, hit: dict[str, Any], request: ImageRequest, query: str) -> Footage | None:
        w, h = int(hit.get("imageWidth") or 0), int(hit.get("imageHeight") or 0)
        sizes = []
        if hit.get("webformatURL"):
            sizes.append((int(hit.get("webformatWidth") or 0), int(hit.get("webformatHeight") or 0),
                          str(hit["webformatURL"])))
        if hit.get("largeImageURL") and w and h:
            fit = min(1.0, 1280 / max(w, h))  # Pixabay's large image is at most 1280 px on its long side
            sizes.append((round(w * fit), round(h * fit), str(hit["largeImageURL"])))
        best = closest_rendition(sizes, request.width, request.height)
        if best is None:
            return None
        return Footage(key=f"pixabay-photo:{hit.get('id')}", kind="image", url=best[2], width=best[0],
                       height=best[1], credit=self._credit(hit), why=f"Pixabay photo for '{query}'")
