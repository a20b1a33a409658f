"""Footage providers against a local fake speaking the Pexels and Pixabay APIs, and the user's media folder."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from providers.base import Credit, Footage, FootageLibrary, ImageRequest  # noqa: E402
from providers.errors import (  # noqa: E402
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    InvalidOutputError,
    TransientError,
)
from providers.registry import resolve  # noqa: E402
from providers.remote.download import cache_file, fetch  # noqa: E402
from providers.remote.stock import closest_rendition, rank_footage  # noqa: E402
from providers.settings import get_settings  # noqa: E402
from tests.fakes.footage import make_clip, make_picture  # noqa: E402
from tests.fakes.server import TRUNCATE, Fault  # noqa: E402
from tests.fakes.stock_server import FakeStock, build_catalogue  # noqa: E402


@pytest.fixture(scope="session")
def _stock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeStock]:
    fake = FakeStock(tmp_path_factory.mktemp("stock"))
    build_catalogue(fake)
    yield fake
    fake.close()


@pytest.fixture
def stock(_stock: FakeStock, vendor_env: pytest.MonkeyPatch, tmp_path: Path) -> FakeStock:
    """The fake, answering normally, with both vendors' keys and base URLs pointing at it and a fresh cache."""
    _stock.reset()
    _stock.strict = _stock.empty = False
    vendor_env.setenv("PEXELS_API_KEY", _stock.key)
    vendor_env.setenv("PEXELS_BASE_URL", _stock.url)
    vendor_env.setenv("PIXABAY_API_KEY", _stock.key)
    vendor_env.setenv("PIXABAY_BASE_URL", f"{_stock.url}/pixabay")
    vendor_env.setenv("AURA_HOME", str(tmp_path / "home"))
    vendor_env.setenv("AURA_FOOTAGE_TIMEOUT", "5")
    get_settings.cache_clear()
    return _stock


def _request(queries: tuple[str, ...] = ("ocean waves",), width: int = 640, height: int = 360,
             seconds: float = 1.0) -> ImageRequest:
    return ImageRequest(prompt="p", title="Waves", text="The ocean moves.", width=width, height=height,
                        queries=queries, seconds=seconds)


def test_rendition_is_the_smallest_that_covers_the_frame() -> None:
    renditions = [(3840, 2160, "4k"), (1280, 720, "hd"), (640, 360, "sd"), (0, 0, "broken")]
    assert closest_rendition(renditions, 1280, 720) == (1280, 720, "hd")
    assert closest_rendition(renditions, 640, 360)[2] == "sd"
    assert closest_rendition(renditions, 1920, 1080)[2] == "4k"
    assert closest_rendition([(320, 180, "small")], 1920, 1080)[2] == "small"  # nothing covers: the largest
    assert closest_rendition([], 640, 360) is None


def test_clips_long_enough_come_first_then_relevance() -> None:
    credit = Credit(source="x")
    items = [Footage(key=k, kind="clip", url="u", width=1, height=1, seconds=s, credit=credit)
             for k, s in (("a", 2), ("b", 9), ("a", 2), ("c", 6))]
    assert [f.key for f in rank_footage(items, 5)] == ["b", "c", "a"]


def test_pexels_videos_search_each_query_and_offer_the_closest_rendition(stock: FakeStock) -> None:
    stock.strict = True
    library = resolve("images", "pexels")
    assert isinstance(library, FootageLibrary)
    found = library.search(_request(("nothing here", "moon", "ocean"), seconds=1.5))
    asked = [r.query for r in stock.requests]
    assert [q["query"][0] for q in asked] == ["nothing here", "moon", "ocean"]  # until enough, or out of queries
    assert {q["orientation"][0] for q in asked} == {"landscape"}
    assert all(r.headers["authorization"] == stock.key for r in stock.requests)
    ocean = next(f for f in found if f.key == "pexels-video:1")
    assert ocean.url.endswith("/media/ocean-hd.mp4") and (ocean.width, ocean.height) == (640, 360)  # not the uhd
    assert ocean.credit.source == "Pexels" and ocean.credit.author == "Ada Lovelace"
    assert ocean.credit.page_url == "https://www.pexels.com/video/item-1/"
    assert found[0].key == "pexels-video:1"  # the only clip at least 1.5 s long comes first


def test_pexels_photos_and_pixabay_offer_their_sizes(stock: FakeStock) -> None:
    photo = resolve("images", "pexels-photos").search(_request(("lighthouse",)))[0]
    assert photo.kind == "image" and photo.url.endswith("lighthouse-large.jpg")  # 940x529 covers 640x360
    video = resolve("images", "pixabay").search(_request(("ocean",), width=360, height=640))
    assert video[0].credit.source == "Pixabay" and video[0].credit.page_url.startswith("https://pixabay.com/")
    assert next(f for f in video if f.key == "pixabay-video:1").url.endswith("ocean-uhd.mp4")  # covers 360x640
    pictures = resolve("images", "pixabay-photos").search(_request(("lighthouse",)))
    assert pictures[0].url.endswith("lighthouse-web.jpg")
    pixabay = [r for r in stock.requests if r.path.startswith("/pixabay")]
    assert pixabay[-1].query["orientation"] == ["horizontal"] and pixabay[-1].query["key"] == [stock.key]


def test_a_missing_key_names_the_variable(stock: FakeStock, vendor_env: pytest.MonkeyPatch) -> None:
    vendor_env.delenv("PEXELS_API_KEY")
    vendor_env.delenv("PIXABAY_API_KEY")
    get_settings.cache_clear()
    with pytest.raises(ConfigurationError, match="PEXELS_API_KEY"):
        resolve("images", "pexels")
    with pytest.raises(ConfigurationError, match="PIXABAY_API_KEY"):
        resolve("images", "pixabay-photos")


def test_a_refused_key_is_an_authentication_error_for_both(stock: FakeStock, vendor_env: pytest.MonkeyPatch) -> None:
    vendor_env.setenv("PEXELS_API_KEY", "wrong")
    vendor_env.setenv("PIXABAY_API_KEY", "wrong")
    get_settings.cache_clear()
    with pytest.raises(AuthenticationError, match="PEXELS_API_KEY") as pexels:
        resolve("images", "pexels").search(_request())
    with pytest.raises(AuthenticationError, match="PIXABAY_API_KEY") as pixabay:
        resolve("images", "pixabay").search(_request())  # Pixabay says 400 "Invalid or missing API key"
    assert "wrong" not in str(pexels.value) + str(pixabay.value)


def test_429_carries_retry_after_and_500_is_transient(stock: FakeStock) -> None:
    stock.script(Fault(429, retry_after="7"), 500)
    library = resolve("images", "pexels")
    with pytest.raises(TransientError) as limited:
        library.search(_request())
    assert limited.value.retry_after == 7
    with pytest.raises(TransientError, match="HTTP 500"):
        library.search(_request())
    assert library.search(_request())  # then it answers


def test_download_is_cached_by_item_and_a_rerun_fetches_nothing(stock: FakeStock, tmp_path: Path) -> None:
    url = f"{stock.url}/media/ocean-hd.mp4"
    first = fetch(url, "pexels-video:1", "clip", tmp_path, "pexels", max_bytes=10**8, timeout=5)
    assert first.read_bytes() == (stock.folder / "ocean-hd.mp4").read_bytes()
    again = fetch(url, "pexels-video:1", "clip", tmp_path, "pexels", max_bytes=10**8, timeout=5)
    assert again == first and stock.count("/media/ocean-hd.mp4") == 1


@pytest.mark.parametrize(("fault", "error", "message"), [
    (Fault(200, headers={TRUNCATE: "3000"}), TransientError, "failed"),
    (Fault(200, body=b"<html>error page</html>" * 50, content_type="text/html"), InvalidOutputError, "not a decodable"),
    (Fault(503), TransientError, "HTTP 503"),
    (Fault(404), BadRequestError, "HTTP 404"),
])
def test_a_bad_download_leaves_nothing_in_the_cache(stock: FakeStock, tmp_path: Path, fault: Fault, error: type,
                                                    message: str) -> None:
    stock.script(fault)
    url = f"{stock.url}/media/ocean-sd.mp4"
    with pytest.raises(error, match=message):
        fetch(url, "pexels-video:1", "clip", tmp_path, "pexels", max_bytes=10**8, timeout=5)
    assert list(tmp_path.iterdir()) == []
    assert not cache_file(tmp_path, "pexels-video:1", url, "clip").exists()


def test_an_oversized_download_is_refused(stock: FakeStock, tmp_path: Path) -> None:
    with pytest.raises(InvalidOutputError, match="MB"):
        fetch(f"{stock.url}/media/ocean-uhd.mp4", "k", "clip", tmp_path, "pexels", max_bytes=1000, timeout=5)
    assert list(tmp_path.iterdir()) == []


def test_a_picture_that_is_not_one_is_refused(stock: FakeStock, tmp_path: Path) -> None:
    with pytest.raises(InvalidOutputError, match="picture"):
        fetch(f"{stock.url}/media/not-a-video.mp4", "k", "image", tmp_path, "pexels", max_bytes=10**8, timeout=5)


def test_media_folder_matches_names_folders_and_sidecars(tmp_path: Path) -> None:
    root = tmp_path / "clips"
    make_clip(root / "Strand" / "möwen_am_Meer.mp4", 160, 90, 0.5)
    make_clip(root / "city-night-traffic.mov", 160, 90, 0.5)
    make_picture(root / "IMG_0042.jpg", 120, 80)
    (root / "IMG_0042.jpg.txt").write_text("our dog Rex running in the park", encoding="utf-8")
    (root / "notes.txt").write_text("not media", encoding="utf-8")
    (root / ".hidden.mp4").write_bytes(b"x")
    (root / "broken.mp4").write_bytes(b"not a video at all")
    library = resolve("images", f"media:{root}")

    def best(queries: tuple[str, ...], text: str) -> Footage:
        return library.search(ImageRequest(prompt="p", title="t", text=text, width=640, height=360,
                                           queries=queries))[0]

    dog = best(("dog park",), "We took the dog out.")
    assert dog.kind == "image" and dog.url.endswith("IMG_0042.jpg") and "'dog'" in dog.why
    gulls = best(("Möwen",), "Am Strand.")
    assert gulls.kind == "clip" and gulls.key == "media:Strand/möwen_am_Meer.mp4" and gulls.seconds > 0.4
    night = best(("night city",), "Traffic at night.")
    assert night.url.endswith("city-night-traffic.mov")
    everything = library.search(ImageRequest(prompt="p", title="t", text="zebra", width=64, height=64))
    assert len(everything) == 3 and all("no words matched" in f.why for f in everything)  # every file offered


def test_media_folder_errors_say_what_to_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        resolve("images", f"media:{tmp_path / 'nope'}")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigurationError, match="no readable clips or pictures"):
        resolve("images", f"media:{tmp_path / 'empty'}").search(_request())


def test_a_broken_download_falls_to_the_next_candidate(stock: FakeStock, tmp_path: Path) -> None:
    from tasks.visuals import FootageChoice, generate_scene_image

    request = _request(("ocean",))
    good = resolve("images", "pexels").search(request)[0]
    bad = good.model_copy(update={"key": "pexels-video:99", "url": f"{stock.url}/media/not-a-video.mp4"})
    visual = generate_scene_image.fn(str(tmp_path / "run"), 0, request, "pexels",
                                     FootageChoice(candidates=(("pexels", bad), ("pexels", good))), fps=24)
    assert (visual.kind, visual.source_key, visual.provider, visual.degraded) == ("clip", good.key, "pexels", False)
    assert visual.path.suffix == ".mp4" and visual.seconds > 1 and visual.poster is not None
    assert visual.credit is not None and visual.credit.source == "Pexels"


def test_no_stock_result_falls_back_along_the_chain_then_to_a_card(stock: FakeStock, tmp_path: Path,
                                                                  vendor_env: pytest.MonkeyPatch) -> None:
    from tasks.visuals import choose_footage, generate_scene_image

    media = tmp_path / "mine"
    make_clip(media / "Ozean Wellen.mp4", 1280, 720, 0.6, 25)  # far larger than the frame: scaled once
    vendor_env.setenv("AURA_FALLBACK_IMAGES", f"pixabay,media:{media}")
    get_settings.cache_clear()
    stock.empty = True
    request = _request(("ocean",), width=160, height=90)
    choice = choose_footage.fn([request], "pexels")[0]
    assert "pexels: nothing found" in choice.note and "pixabay: nothing found" in choice.note
    visual = generate_scene_image.fn(str(tmp_path / "run"), 0, request, "pexels", choice, fps=24)
    assert visual.provider == f"media:{media}" and visual.degraded and "pexels: nothing found" in visual.fallback_reason
    assert (visual.width, visual.height) == (160, 90) and visual.kind == "clip"  # the conformed copy
    vendor_env.setenv("AURA_FALLBACK_IMAGES", "pixabay")
    get_settings.cache_clear()
    nothing = choose_footage.fn([request], "pexels")[0]
    card = generate_scene_image.fn(str(tmp_path / "run"), 0, request, "pexels", nothing, fps=24)
    assert card.provider == "local" and card.kind == "image" and card.degraded and card.path.is_file()


def test_a_changed_media_folder_is_searched_again(tmp_path: Path) -> None:
    root = tmp_path / "clips"
    make_picture(root / "harbour.jpg", 64, 48)
    library = resolve("images", f"media:{root}")
    before = library.fingerprint()
    assert library.fingerprint() == before
    (root / "harbour.txt").write_text("boats at dawn", encoding="utf-8")
    with_sidecar = library.fingerprint()
    make_picture(root / "sub" / "new.png", 64, 48)
    assert len({before, with_sidecar, library.fingerprint()}) == 3


def test_api_media_folders_must_be_inside_an_allowed_one(tmp_path: Path) -> None:
    from providers.images.media_folder import media_folder_allowed

    allowed = tmp_path / "shared"
    (allowed / "trip").mkdir(parents=True)
    (tmp_path / "secret").mkdir()
    (allowed / "escape").symlink_to(tmp_path / "secret")
    assert media_folder_allowed(str(allowed / "trip"), [allowed])
    assert not media_folder_allowed(str(allowed / "trip" / ".." / ".." / "secret"), [allowed])
    assert not media_folder_allowed(str(allowed / "escape"), [allowed])  # a link out of it is followed
    assert not media_folder_allowed(str(allowed / "trip"), [])  # nothing configured: nothing allowed
