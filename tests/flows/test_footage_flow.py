"""The whole flow made of footage: stock clips from a fake Pexels, and the user's own media folder."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from flows.make_video import make_video  # noqa: E402
from providers.media.streams import probe  # noqa: E402
from providers.settings import get_settings  # noqa: E402
from tasks.schemas import Brief, Providers, RenderSpec  # noqa: E402
from tests.fakes.footage import make_clip, make_picture  # noqa: E402
from tests.fakes.stock_server import FakeStock, build_catalogue  # noqa: E402

RENDER = RenderSpec(resolution="360p", fps=24, quality="draft", motion=False)  # no zoom: only footage moves


@pytest.fixture(scope="module")
def stock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeStock]:
    """The fake stock library, with the environment pointing Pexels and Aura's home at it for this module."""
    fake = FakeStock(tmp_path_factory.mktemp("stock"))
    build_catalogue(fake)
    saved = {k: os.environ.get(k) for k in ("PEXELS_API_KEY", "PEXELS_BASE_URL", "AURA_HOME", "AURA_FALLBACK_IMAGES")}
    os.environ.update(PEXELS_API_KEY=fake.key, PEXELS_BASE_URL=fake.url,
                      AURA_HOME=str(tmp_path_factory.mktemp("home")))
    os.environ.pop("AURA_FALLBACK_IMAGES", None)
    get_settings.cache_clear()
    yield fake
    fake.close()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    get_settings.cache_clear()


def _frames(path: Path, times: list[float]) -> list[np.ndarray]:
    """The decoded frames shown at `times` (seconds)."""
    wanted, found = sorted(times), {}
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            t = float(frame.pts * frame.time_base)
            for w in wanted:
                if w not in found and t >= w:
                    found[w] = frame.to_ndarray(format="gray").astype(int)
    return [found[t] for t in times]


@pytest.fixture(scope="module")
def tides(stock: FakeStock, tmp_path_factory: pytest.TempPathFactory):
    """'How tides work' made of Pexels clips, then the same footage for a second job (another quality)."""
    out = tmp_path_factory.mktemp("videos") / "tides.mp4"
    brief = Brief(topic="How tides work", duration=12, density="dense")
    video = make_video(brief=brief, render=RENDER, providers=Providers(images="pexels"), out=str(out))
    downloads = stock.count("") - stock.count("/search")
    again = make_video(brief=brief, render=RENDER.model_copy(update={"quality": "standard"}),
                       providers=Providers(images="pexels"), out=str(out.with_name("tides-2.mp4")))
    return video, again, out, downloads, stock.count("") - stock.count("/search")


def test_stock_clips_make_a_video_as_long_as_its_narration(tides) -> None:
    video, _, out, _, _ = tides
    info = probe(out)
    assert (info.width, info.height, info.audio_codec) == (640, 360, "aac")
    assert abs(info.video_duration - video.narration_duration) <= 1 / 24 + 1e-3
    assert video.scenes >= 2 and video.degraded == {}


def test_the_footage_moves_inside_a_scene(tides) -> None:
    out = tides[2]
    first, later = _frames(out, [0.1, 0.6])
    assert np.abs(first - later).mean() > 2  # without zoom, only moving footage changes the picture


def test_credits_name_each_scene_source_and_no_clip_twice(tides) -> None:
    video, _, out, _, _ = tides
    lines = out.with_suffix(".credits.txt").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "Footage" and len(lines) == 1 + video.scenes
    assert all("Pexels by Ada Lovelace - https://www.pexels.com/video/item-" in line for line in lines[1:])
    pages = [line.split(" - ")[1] for line in lines[1:]]
    assert len(set(pages)) == len(pages)


def test_a_rerun_downloads_nothing(tides) -> None:
    _, again, _, downloads, after = tides
    assert downloads >= 2 and after == downloads
    assert Path(again.path).is_file()


def test_own_media_folder_with_fewer_files_than_scenes(stock: FakeStock, tmp_path: Path) -> None:
    media = tmp_path / "Reise nach Köln"
    make_clip(media / "Dom bei Nacht 🌙.mp4", 352, 198, 0.8, 25, vfr=True)
    make_picture(media / "Rhein_Ufer.jpg", 300, 200)
    out = tmp_path / "trip.mp4"
    brief = Brief(topic="Our trip", duration=15, density="dense")
    video = make_video(brief=brief, render=RENDER, providers=Providers(images=f"media:{media}"), out=str(out))
    assert video.scenes == 3 and video.degraded == {}
    info = probe(out)
    assert abs(info.video_duration - video.narration_duration) <= 1 / 24 + 1e-3
    credits = out.with_suffix(".credits.txt").read_text(encoding="utf-8")
    assert "your media - Dom bei Nacht 🌙.mp4" in credits and "Rhein_Ufer.jpg" in credits
