"""Timeline maths: exact length, per-segment clocks, and plans that depend on their own scene only."""

from __future__ import annotations

from pathlib import Path

import pytest

from tasks.schemas import Narration, SceneImage, WordTiming
from tasks.timeline import CARRY_RATE, frame_bounds, lay_out, render_frames, segment_plan


def _narration(i: int, seconds: float, words: int = 4) -> Narration:
    step = seconds / (words + 1)
    timings = tuple(WordTiming(word=f"w{i}{j}{'.' if j == words - 1 else ''}", start=0.1 + j * step,
                               end=0.1 + j * step + step * 0.8) for j in range(words))
    return Narration(index=i, audio=Path(f"/n/{i}.wav"), duration=seconds, words=timings, digest=f"n{i}-{seconds}")


def _image(i: int) -> SceneImage:
    return SceneImage(index=i, path=Path(f"/i/{i}.png"), width=160, height=90, digest=f"i{i}")


def _timeline(durations: list[float], fps: int = 24, crossfade: float = 0.5, captions: bool = True):
    narrations = [_narration(i, d) for i, d in enumerate(durations)]
    return lay_out(narrations, [_image(i) for i in range(len(durations))], Path("/a.m4a"), "a", width=160,
                   height=90, fps=fps, crossfade=crossfade, captions=captions, motion=True, preset="ultrafast",
                   crf=30)


def test_frame_bounds_never_drift_and_stay_within_half_a_frame() -> None:
    durations = [1.013, 2.027, 0.988, 3.331] * 25
    bounds = frame_bounds(durations, 30)
    assert abs(bounds[-1] / 30 - sum(durations)) <= 0.5 / 30
    assert all(b > a for a, b in zip(bounds, bounds[1:], strict=False))


def test_a_scene_shorter_than_a_frame_is_refused() -> None:
    with pytest.raises(ValueError, match="less than one frame"):
        frame_bounds([1.0, 0.01], 24)


def test_each_segment_renders_its_own_whole_frames_and_keeps_all_or_all_but_one() -> None:
    durations = [1.01, 0.97, 1.53, 0.52]
    timeline = _timeline(durations)
    assert round(timeline.duration * 24) == round(sum(durations) * 24)
    for scene, d in zip(timeline.scenes, durations, strict=True):
        own = render_frames(d, 24)
        kept = round(scene.duration * 24)
        assert round(scene.render_duration * 24) == own
        assert kept in (own - 1, own)
        assert all(0 <= c.start < c.end <= scene.render_duration + 1e-9 for c in scene.captions)


def test_captions_are_on_the_scenes_own_clock_and_on_the_narration_clock_for_srt() -> None:
    timeline = _timeline([1.0, 1.0])
    first_words_scene_2 = timeline.scenes[1].captions[0].words[0]
    assert first_words_scene_2.start == pytest.approx(0.1)  # its own clock
    srt_cue = next(c for c in timeline.captions if c.text.startswith("w10"))
    assert srt_cue.start == pytest.approx(1.1)  # the narration track's clock
    assert not _timeline([1.0, 1.0], captions=False).scenes[0].captions


def test_changing_one_narration_changes_only_that_scenes_plan() -> None:
    """The property segment caching rests on: later segments do not shift by a frame, nor change motion."""
    before = _timeline([1.01, 0.97, 1.53, 0.52])
    after = _timeline([1.37, 0.97, 1.53, 0.52])  # scene 0 re-spoken, a different length
    changed = [i for i in range(4) if segment_plan(before, i) != segment_plan(after, i)]
    assert changed == [0]
    assert before.duration != after.duration


def test_the_outgoing_image_keeps_zooming_at_a_fixed_rate_during_the_fade() -> None:
    timeline = _timeline([1.0, 1.0, 1.0], fps=25)
    plan = segment_plan(timeline, 1)
    assert plan.previous_image == Path("/i/0.png") and plan.fade_in == pytest.approx(1 / 3)
    start, end = plan.previous_zoom
    assert start == pytest.approx(timeline.scenes[0].zoom[1] + CARRY_RATE / 25, abs=1e-6)
    assert end > start
    out = segment_plan(timeline, 2)  # scene 1 zooms out: its carried zoom goes down but not below 1
    assert 1.0 <= out.previous_zoom[1] < out.previous_zoom[0]
    assert segment_plan(timeline, 0).fade_in == 0 and segment_plan(timeline, 0).previous_image is None
