"""A fake stock library speaking the Pexels and Pixabay search APIs, serving real clips and pictures.

    Pexels  GET /videos/search, /v1/search      key in the Authorization header; 401 {"error": ...}
    Pixabay GET /pixabay/videos/, /pixabay/     key in ?key=; a wrong key: 400 "[ERROR 400] Invalid or missing API key"
    files   GET /media/<name>                   no key, like the vendors' CDNs

Every item is found for every query unless `strict` is set (then only items whose words contain a
query word); `empty` makes every search answer with no results. Media files are the real files in
`folder`, made by the test with ffmpeg.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .server import FakeServer, Request

__all__ = ["FakeStock", "StockItem", "build_catalogue"]


@dataclass
class StockItem:
    """One library item: a video (several renditions) or a photo (original + smaller sizes)."""

    id: int
    kind: str  # "clip" or "image"
    files: dict[str, tuple[int, int, str]]  # rendition name -> (width, height, file name in the folder)
    words: set[str] = field(default_factory=set)
    seconds: int = 0
    fps: float = 25.0
    author: str = "Ada Lovelace"


class FakeStock(FakeServer):
    """Pexels and Pixabay in one fake; `items` is the catalogue, shared by both."""

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}"
        self.folder = folder
        self.items: list[StockItem] = []
        self.strict = False
        self.empty = False

    # --- what the base class asks for
    def authorized(self, req: Request) -> bool:
        if req.path.startswith(("/media/", "/pixabay")):
            return True  # files need no key; Pixabay checks its key itself, answering 400
        return req.headers.get("authorization") == self.key

    def error_body(self, status: int, message: str) -> Any:
        return {"error": message}

    def route(self, req: Request) -> tuple[int, Any, str]:
        if req.path.startswith("/media/"):
            path = self.folder / req.path.removeprefix("/media/")
            if not path.is_file():
                return 404, b"not found", "text/plain"
            return 200, path.read_bytes(), "video/mp4" if path.suffix == ".mp4" else "image/jpeg"
        query = (req.query.get("query") or req.query.get("q") or [""])[0]
        if req.path.startswith("/pixabay"):
            if (req.query.get("key") or [""])[0] != self.key:
                return 400, b"[ERROR 400] Invalid or missing API key", "text/plain"
            videos = req.path.rstrip("/").endswith("videos")
            found = self._found(query, "clip" if videos else "image")
            hits = [self._pixabay_video(i) if videos else self._pixabay_photo(i) for i in found]
            return 200, {"total": len(hits), "totalHits": len(hits), "hits": hits}, "application/json"
        if req.path == "/videos/search":
            videos = [self._pexels_video(i) for i in self._found(query, "clip")]
            return 200, {"page": 1, "per_page": 15, "total_results": len(videos), "videos": videos}, \
                "application/json"
        if req.path == "/v1/search":
            photos = [self._pexels_photo(i) for i in self._found(query, "image")]
            return 200, {"page": 1, "per_page": 15, "total_results": len(photos), "photos": photos}, \
                "application/json"
        return 404, {"error": "no such route"}, "application/json"

    # --- the catalogue in each vendor's shape
    def _found(self, query: str, kind: str) -> list[StockItem]:
        if self.empty:
            return []
        words = set(query.lower().split())
        same = [i for i in self.items if i.kind == kind]
        hits = [i for i in same if i.words & words]
        return hits if self.strict else hits + [i for i in same if i not in hits]

    def _link(self, name: str) -> str:
        return f"{self.url}/media/{name}"

    def _pexels_video(self, item: StockItem) -> dict[str, Any]:
        files = [{"id": item.id * 10 + n, "quality": quality, "file_type": "video/mp4", "width": w, "height": h,
                  "fps": item.fps, "link": self._link(name)}
                 for n, (quality, (w, h, name)) in enumerate(item.files.items())]
        biggest = max(item.files.values(), key=lambda f: f[0] * f[1])
        return {"id": item.id, "width": biggest[0], "height": biggest[1], "duration": item.seconds,
                "url": f"https://www.pexels.com/video/item-{item.id}/", "image": "",
                "user": {"id": 1, "name": item.author, "url": "https://www.pexels.com/@ada"},
                "video_files": files, "video_pictures": []}

    def _pexels_photo(self, item: StockItem) -> dict[str, Any]:
        w, h, _ = item.files["original"]
        return {"id": item.id, "width": w, "height": h, "url": f"https://www.pexels.com/photo/item-{item.id}/",
                "photographer": item.author, "photographer_url": "https://www.pexels.com/@ada", "alt": "",
                "src": {name: self._link(f[2]) for name, f in item.files.items()}}

    def _pixabay_video(self, item: StockItem) -> dict[str, Any]:
        return {"id": item.id, "pageURL": f"https://pixabay.com/videos/item-{item.id}/", "type": "film",
                "tags": ", ".join(sorted(item.words)), "duration": item.seconds, "user": item.author, "user_id": 1,
                "videos": {name: {"url": self._link(f[2]), "width": f[0], "height": f[1], "size": 1000}
                           for name, f in item.files.items()}}

    def _pixabay_photo(self, item: StockItem) -> dict[str, Any]:
        w, h, _ = item.files["original"]
        hit: dict[str, Any] = {"id": item.id, "pageURL": f"https://pixabay.com/photos/item-{item.id}/",
                               "type": "photo", "tags": ", ".join(sorted(item.words)), "imageWidth": w,
                               "imageHeight": h, "user": item.author, "user_id": 1}
        if "webformat" in item.files:
            ww, wh, name = item.files["webformat"]
            hit.update(webformatURL=self._link(name), webformatWidth=ww, webformatHeight=wh)
        if "large" in item.files:
            hit["largeImageURL"] = self._link(item.files["large"][2])
        return hit


def build_catalogue(fake: FakeStock) -> None:
    """Fill `fake` with real small clips and photos (odd sizes, VFR, rotated, 10-bit, short, with audio)."""
    from .footage import make_clip, make_picture

    f = fake.folder
    make_clip(f / "ocean-sd.mp4", 320, 180, 1.6, 25)
    make_clip(f / "ocean-hd.mp4", 640, 360, 1.6, 25)
    make_clip(f / "ocean-uhd.mp4", 1280, 720, 1.6, 25)
    make_clip(f / "moon-vfr.mp4", 333, 187, 1.3, 24, vfr=True, pattern="mandelbrot")
    make_clip(f / "beach-rotated.mp4", 480, 270, 1.0, 30, rotate=90, pattern="life")
    make_clip(f / "pool-short.mp4", 640, 360, 0.4, 50, audio=True, ten_bit=True)
    make_picture(f / "lighthouse.jpg", 1280, 720, (230, 120, 20))
    make_picture(f / "lighthouse-large.jpg", 940, 529, (230, 120, 20))
    make_picture(f / "lighthouse-medium.jpg", 622, 350, (230, 120, 20))
    make_picture(f / "lighthouse-web.jpg", 640, 360, (230, 120, 20))
    make_picture(f / "harbor.jpg", 800, 600, (120, 40, 160))
    (f / "not-a-video.mp4").write_bytes(b"<html>this is an error page, not a video</html>" * 20)
    fake.items = [
        StockItem(1, "clip", {"sd": (320, 180, "ocean-sd.mp4"), "hd": (640, 360, "ocean-hd.mp4"),
                              "uhd": (1280, 720, "ocean-uhd.mp4")}, {"ocean", "waves", "water"}, seconds=2),
        StockItem(2, "clip", {"hd": (333, 187, "moon-vfr.mp4")}, {"moon", "night"}, seconds=1, fps=24),
        StockItem(3, "clip", {"hd": (480, 270, "beach-rotated.mp4")}, {"beach", "sand"}, seconds=1, fps=30),
        StockItem(4, "clip", {"hd": (640, 360, "pool-short.mp4")}, {"tide", "pool"}, seconds=0, fps=50),
        StockItem(11, "image", {"original": (1280, 720, "lighthouse.jpg"), "large": (940, 529, "lighthouse-large.jpg"),
                                "medium": (622, 350, "lighthouse-medium.jpg"),
                                "webformat": (640, 360, "lighthouse-web.jpg")}, {"lighthouse", "coast"}),
        StockItem(12, "image", {"original": (800, 600, "harbor.jpg"), "large": (800, 600, "harbor.jpg")},
                  {"harbor", "boats"}),
    ]
