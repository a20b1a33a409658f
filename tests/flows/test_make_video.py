"""The whole flow end to end: a real MP4, probed; a second run served from cache."""

from __future__ import annotations

import pytest

from flows.make_video import make_video
from providers.media.streams import probe
from providers.settings import get_settings
from tasks.schemas import Brief, RenderSpec

STAGES = ["brief", "script", "voice", "visuals", "composition"]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory):
    """One tiny real render shared by the tests of this module, and its cached re-run."""
    import os

    home = tmp_path_factory.mktemp("home")
    os.environ["AURA_HOME"] = str(home)
    get_settings.cache_clear()
    out = home / "bees.mp4"
    brief = Brief(topic="How honeybees communicate", duration=12, density="dense", aspect="16:9")
    render = RenderSpec(resolution="360p", fps=24, quality="draft")
    first = make_video(brief=brief, render=render, out=str(out))
    second = make_video(brief=brief, render=render, out=str(out))
    return brief, render, out, first, second


def test_video_is_a_real_h264_aac_mp4_as_long_as_its_narration(rendered) -> None:
    _, _, out, video, _ = rendered
    info = probe(out)
    assert (info.video_codec, info.audio_codec) == ("h264", "aac")
    assert (info.width, info.height) == (640, 360) and info.fps == pytest.approx(24, abs=0.01)
    assert abs(info.video_duration - video.narration_duration) <= 1 / 24 + 1e-3
    assert abs(info.audio_duration - info.video_duration) <= 1 / 24 + 1e-3
    assert video.path == out and video.scenes >= 2
    assert out.with_suffix(".srt").read_text().startswith("1\n00:00:00")
    assert out.with_suffix(".vtt").read_text().startswith("WEBVTT")


def test_metrics_cover_every_stage(rendered) -> None:
    video = rendered[3]
    assert list(video.metrics) == STAGES
    assert all(m.seconds >= 0 and m.peak_memory_mb > 0 for m in video.metrics.values())
    assert video.metrics["voice"].items_done == video.scenes
    assert video.metrics["composition"].items_done >= video.scenes + 1
    assert not video.metrics["composition"].cached


def test_second_run_executes_no_stage(rendered) -> None:
    first, second = rendered[3], rendered[4]
    assert all(m.cached for m in second.metrics.values())
    assert second.path == first.path and second.created_at == first.created_at


def test_no_partial_files_are_left(rendered) -> None:
    out = rendered[2]
    leftovers = [p for p in out.parent.rglob("*") if ".partial" in p.name or p.name.startswith(".captions-")]
    assert leftovers == []
