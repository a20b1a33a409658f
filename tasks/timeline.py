"""Timeline maths (pure): scenes last as long as their narration, on whole frames.

Two clocks, so that the video is exact and editing one scene re-renders one segment:
- the video: scene boundaries are rounded from the exact cumulative narration time, so rounding
  never accumulates and the video is within half a frame of the narration (`frame_bounds`);
- each segment: rendered on its own audio's whole frames (`render_frames`, at most one more than it
  keeps), with its captions on its own clock and motion that does not depend on its neighbours'
  lengths. The join cuts the one extra frame where the video clock needs it, so a changed
  narration changes that scene's segment only, never the ones after it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from providers.base import SegmentPlan
from tasks.captions import clip_cues, phrase_cues, shift_cues
from tasks.schemas import CaptionCue, Narration, SceneVisual, Timeline, TimelineScene

__all__ = ["CARRY_RATE", "CLIP_TAIL", "ZOOM", "clip_out_point", "clip_start", "frame_bounds", "image_digests",
           "lay_out", "render_frames", "scene_zoom", "segment_plan"]

ZOOM = 1.12
# zoom per second that an outgoing image keeps during the crossfade into the next scene: a fixed
# rate (not its scene's) so that a segment does not depend on the previous scene's length
CARRY_RATE = 0.024
_ZOOM_OUT_END = 1.03  # zoom-outs stop short of 1.0 so that the carried motion can continue
# seconds of a clip kept after its scene's out point, for the next scene's crossfade (the longest crossfade)
CLIP_TAIL = 2.0


def frame_bounds(durations: Sequence[float], fps: int) -> list[int]:
    """Frame index where each scene starts, plus the total frame count at the end.

    Boundaries are rounded from the exact cumulative audio time, so rounding never accumulates and
    the video is within half a frame of the narration.
    """
    bounds = [0]
    elapsed = 0.0
    for d in durations:
        if d * fps < 1:
            raise ValueError(f"a scene's narration lasts {d:.3f} s, less than one frame at {fps} fps")
        elapsed += d
        bounds.append(round(elapsed * fps))
    return bounds


def render_frames(duration: float, fps: int) -> int:
    """Frames a scene's segment is rendered with: whole frames covering its own narration."""
    return max(1, math.ceil(duration * fps - 1e-6))


def scene_zoom(index: int) -> tuple[float, float]:
    """Zoom in on even scenes, out on odd ones."""
    return (1.0, ZOOM) if index % 2 == 0 else (ZOOM, _ZOOM_OUT_END)


def clip_out_point(seconds: float) -> float:
    """Where in a clip of `seconds` its scene ends: a fixed point of the clip, not of the scene.

    The next scene's crossfade continues the clip from here, so that segment does not depend on
    this scene's length; the tail after it is left for that crossfade.
    """
    return round(max(0.0, seconds - CLIP_TAIL), 6)


def clip_start(seconds: float, duration: float) -> float:
    """Where a clip of `seconds` starts so that a scene of `duration` ends on its out point (looping if needed)."""
    return round((clip_out_point(seconds) - duration) % seconds, 6)


def lay_out(
    narrations: Sequence[Narration],
    images: Sequence[SceneVisual],
    audio: Path,
    audio_digest: str,
    *,
    width: int,
    height: int,
    fps: int,
    crossfade: float,
    captions: bool,
    motion: bool,
    preset: str,
    crf: int,
    codec: str = "libx264",
    caption_style: str = "phrase",
    loudness: float | None = None,
    music: bool = False,
) -> Timeline:
    """Place every scene on the clock from its narration's real duration."""
    if len(narrations) != len(images):
        raise ValueError(f"{len(narrations)} narrations but {len(images)} images")
    bounds = frame_bounds([n.duration for n in narrations], fps)
    all_cues: list[CaptionCue] = []
    scenes = []
    elapsed = 0.0
    for i, (narration, image) in enumerate(zip(narrations, images, strict=True)):
        own = render_frames(narration.duration, fps)
        keep = bounds[i + 1] - bounds[i]
        if not own - 1 <= keep <= own:  # guaranteed by the rounding; a loud error if that ever changes
            raise ValueError(f"scene {i} keeps {keep} of {own} frames")
        cues = phrase_cues(narration.words)  # on the scene's own clock
        all_cues += shift_cues(cues, elapsed)  # on the narration track's clock, for .srt/.vtt
        elapsed += narration.duration
        fade = min(crossfade, own / fps / 3) if i > 0 else 0.0
        clip = image.seconds if image.kind == "clip" else 0.0
        scenes.append(TimelineScene(
            index=i, image=image.path, image_digest=image.digest, start=bounds[i] / fps, duration=keep / fps,
            render_duration=own / fps, zoom=scene_zoom(i), fade_in=fade,
            captions=clip_cues(cues, own / fps) if captions else (),
            clip_seconds=clip, clip_start=clip_start(clip, own / fps) if clip else 0.0,
        ))
    return Timeline(
        width=width, height=height, fps=fps, audio=audio, audio_digest=audio_digest, duration=bounds[-1] / fps,
        scenes=tuple(scenes), captions=tuple(all_cues), show_captions=captions, motion=motion,
        preset=preset, crf=crf, codec=codec, caption_style=caption_style, loudness=loudness, music=music,
    )


def segment_plan(timeline: Timeline, index: int) -> SegmentPlan:
    """What the renderer needs for scene `index`'s segment; nothing in it depends on other scenes' lengths."""
    scene = timeline.scenes[index]
    previous = timeline.scenes[index - 1] if index > 0 else None
    carried = (1.0, 1.0)
    fade_in = scene.fade_in if previous is not None else 0.0
    if fade_in <= 0:
        previous = None  # a cut: the previous image is not in this segment, so it must not be in its key
    if previous is not None:
        # the outgoing image keeps zooming in its own direction, at a fixed rate, while it fades out
        end = previous.zoom[1]
        sign = 1.0 if previous.zoom[1] >= previous.zoom[0] else -1.0
        step = CARRY_RATE / timeline.fps
        carried = (round(max(1.0, end + sign * step), 6),
                   round(max(1.0, end + sign * step * max(1, round(fade_in * timeline.fps))), 6))
    # footage moves by itself: no zoom on a clip (the plan's zoom fields stay at 1.0 so they do not key it)
    zoom = (1.0, 1.0) if scene.clip_seconds else scene.zoom
    if previous is not None and previous.clip_seconds:
        carried = (1.0, 1.0)
    return SegmentPlan(
        image=scene.image, duration=scene.render_duration or scene.duration, width=timeline.width,
        height=timeline.height, fps=timeline.fps, motion=timeline.motion, zoom_from=zoom[0],
        zoom_to=zoom[1], previous_image=previous.image if previous else None, previous_zoom=carried,
        fade_in=fade_in, captions=scene.captions, caption_style=timeline.caption_style,
        codec=timeline.codec, preset=timeline.preset, crf=timeline.crf,
        clip_seconds=scene.clip_seconds, clip_start=scene.clip_start,
        previous_clip_seconds=previous.clip_seconds if previous else 0.0,
        previous_clip_start=clip_out_point(previous.clip_seconds) if previous and previous.clip_seconds else 0.0,
    )


def image_digests(timeline: Timeline, index: int) -> tuple[str, str]:
    """The digests of the images in scene `index`'s segment: its own, and the previous one's if it fades from it."""
    plan = segment_plan(timeline, index)
    previous = timeline.scenes[index - 1].image_digest if plan.previous_image is not None else ""
    return timeline.scenes[index].image_digest, previous
