"""Clips as scene visuals: where a clip plays, plans that depend on their own scene, real segments from odd sources."""

from __future__ import annotations

import sys
from pathlib import Path

import av
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from providers.base import Credit, Footage, SegmentPlan  # noqa: E402
from providers.media.footage import clip_info, conform_clip, key_frame_gap, needs_conform  # noqa: E402
from providers.media.streams import check_segment, probe  # noqa: E402
from providers.render.ffmpeg import FFmpegRenderer  # noqa: E402
from tasks.schemas import Narration, SceneVisual, WordTiming  # noqa: E402
from tasks.timeline import CLIP_TAIL, clip_out_point, clip_start, lay_out, segment_plan  # noqa: E402
from tasks.visuals import assign_footage  # noqa: E402
from tests.fakes.footage import make_clip  # noqa: E402


def _narration(i: int, seconds: float) -> Narration:
    words = (WordTiming(word="tide", start=0.1, end=0.4), WordTiming(word="moon.", start=0.5, end=0.9))
    return Narration(index=i, audio=Path(f"/n/{i}.wav"), duration=seconds, words=words, digest=f"n{i}-{seconds}")


def _visual(i: int, clip: float = 0.0) -> SceneVisual:
    if clip:
        return SceneVisual(index=i, path=Path(f"/v/{i}.mp4"), width=640, height=360, digest=f"v{i}", kind="clip",
                           seconds=clip, fps=25)
    return SceneVisual(index=i, path=Path(f"/i/{i}.png"), width=160, height=90, digest=f"i{i}")


def _timeline(durations: list[float], clips: list[float]):
    return lay_out([_narration(i, d) for i, d in enumerate(durations)],
                   [_visual(i, c) for i, c in enumerate(clips)], Path("/a.m4a"), "a", width=160, height=90, fps=24,
                   crossfade=0.5, captions=True, motion=True, preset="ultrafast", crf=30)


def test_a_clip_scene_ends_on_the_clips_out_point_and_loops_when_longer() -> None:
    assert clip_out_point(10.0) == 10.0 - CLIP_TAIL and clip_out_point(1.5) == 0.0
    assert clip_start(10.0, 5.0) == pytest.approx(3.0)  # plays 3..8, leaving the tail for the next crossfade
    start = clip_start(3.0, 7.5)  # longer than the clip: loops
    assert 0 <= start < 3.0 and (start + 7.5) % 3.0 == pytest.approx(clip_out_point(3.0) % 3.0)


def test_clip_plans_have_no_zoom_and_do_not_depend_on_the_previous_scenes_length() -> None:
    a = _timeline([2.0, 3.0, 2.5], [6.0, 4.0, 0.0])
    b = _timeline([2.7, 3.0, 2.5], [6.0, 4.0, 0.0])  # scene 1 longer: only its own plan changes
    assert segment_plan(a, 1) == segment_plan(b, 1)
    assert segment_plan(a, 0) != segment_plan(b, 0)
    clip = segment_plan(a, 1)
    assert (clip.zoom_from, clip.zoom_to, clip.clip_seconds) == (1.0, 1.0, 4.0)
    assert clip.previous_clip_seconds == 6.0 and clip.previous_clip_start == clip_out_point(6.0)
    still = segment_plan(a, 2)  # a still after a clip: zooms, and carries the clip through the fade
    assert still.clip_seconds == 0 and still.zoom_to != still.zoom_from
    assert (still.previous_clip_seconds, still.previous_zoom) == (4.0, (1.0, 1.0))


def test_each_scene_gets_its_own_footage_while_others_remain() -> None:
    def item(key: str) -> tuple[str, Footage]:
        return "pexels", Footage(key=key, kind="clip", url="u", width=1, height=1, credit=Credit(source="x"))

    chosen = assign_footage([[item("a"), item("b")], [item("a"), item("c")], [item("a")], []])
    assert [c[0][1].key if c else None for c in chosen] == ["a", "c", "a", None]  # reused only when nothing else
    assert [k[1].key for k in chosen[1]] == ["c", "a"]  # the used one stays as a last resort
    few = assign_footage([[item("x"), item("y")]] * 5)  # fewer items than scenes: they take turns
    assert [c[0][1].key for c in few] == ["x", "y", "x", "y", "x"]


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("sources")
    return {
        "odd-vfr": make_clip(folder / "odd-vfr.mp4", 333, 187, 1.3, 24, vfr=True),
        "rotated": make_clip(folder / "rotated.mp4", 240, 136, 1.0, 30, rotate=90),
        "tenbit-50fps": make_clip(folder / "tenbit.mp4", 320, 180, 1.0, 50, ten_bit=True),
        "short-with-audio": make_clip(folder / "short.mp4", 200, 200, 0.3, 25, audio=True),
    }


@pytest.mark.parametrize("name", ["odd-vfr", "rotated", "tenbit-50fps", "short-with-audio"])
def test_a_segment_from_an_awkward_clip_is_exact_and_moves(sources: dict[str, Path], tmp_path: Path,
                                                           name: str) -> None:
    source = sources[name]
    info = clip_info(source)
    plan = SegmentPlan(image=source, duration=1.5, width=160, height=90, fps=24, clip_seconds=info.video_duration,
                       clip_start=clip_start(info.video_duration, 1.5), previous_image=sources["odd-vfr"],
                       previous_clip_seconds=1.3, previous_clip_start=0.2, fade_in=0.3, preset="ultrafast", crf=30)
    out = FFmpegRenderer().render_segment(plan, tmp_path / f"{name}.mp4")
    check_segment(out, plan)  # 36 frames of 160x90, key frames at both ends
    assert probe(out).audio_codec is None
    with av.open(str(out)) as container:
        frames = [f.to_ndarray(format="gray").astype(int) for f in container.decode(video=0)]
    assert np.abs(frames[10] - frames[30]).mean() > 1  # footage moves (or loops) through the whole scene


def test_only_costly_sources_are_re_encoded_first(sources: dict[str, Path], tmp_path: Path) -> None:
    info = clip_info(sources["tenbit-50fps"])  # 320x180, 50 fps, a key frame every second
    gap = key_frame_gap(sources["tenbit-50fps"], info.video_duration)
    assert gap <= 1.0
    assert not needs_conform(info, gap, 320, 180, 50)
    assert needs_conform(info, gap, 160, 90, 50)  # 4x the pixels
    assert needs_conform(info, gap, 320, 180, 25)  # twice the frame rate
    assert needs_conform(info, 7.0, 320, 180, 50)  # one key frame for 7 s
    out = conform_clip(sources["tenbit-50fps"], tmp_path / "c.mp4", 160, 90, 25, timeout=60)
    small = clip_info(out)
    assert (small.width, small.height, round(small.fps)) == (160, 90, 25)
    assert key_frame_gap(out, small.video_duration) <= 1.0 and probe(out).audio_codec is None
