"""Timeline maths (pure): scenes last as long as their narration, on whole frames."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from providers.base import SegmentPlan
from tasks.captions import cues_in_window, phrase_cues
from tasks.schemas import Narration, SceneImage, Timeline, TimelineScene

__all__ = ["frame_bounds", "lay_out", "segment_plan"]

ZOOM = 1.12


def frame_bounds(durations: Sequence[float], fps: int) -> list[int]:
    """Frame index where each scene starts, plus the total frame count at the end.

    Boundaries are rounded from the exact cumulative audio time, so rounding never accumulates and
    the video is within half a frame of the narration.
    """
    bounds = [0]
    elapsed = 0.0
    for d in durations:
        elapsed += d
        bounds.append(round(elapsed * fps))
    return bounds


def lay_out(
    narrations: Sequence[Narration],
    images: Sequence[SceneImage],
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
) -> Timeline:
    """Place every scene on the clock from its narration's real duration."""
    if len(narrations) != len(images):
        raise ValueError(f"{len(narrations)} narrations but {len(images)} images")
    bounds = frame_bounds([n.duration for n in narrations], fps)
    all_cues = []
    scenes = []
    elapsed = 0.0
    for i, (narration, image) in enumerate(zip(narrations, images, strict=True)):
        all_cues += phrase_cues(narration.words, offset=elapsed)
        elapsed += narration.duration
    for i, image in enumerate(images):
        start, end = bounds[i] / fps, bounds[i + 1] / fps
        zoom = (1.0, ZOOM) if i % 2 == 0 else (ZOOM, 1.0)
        fade = min(crossfade, (end - start) / 3) if i > 0 else 0.0
        scenes.append(TimelineScene(
            index=i, image=image.path, image_digest=image.digest, start=start, duration=end - start,
            zoom=zoom, fade_in=fade, captions=cues_in_window(all_cues, start, end) if captions else (),
        ))
    return Timeline(
        width=width, height=height, fps=fps, audio=audio, audio_digest=audio_digest, duration=bounds[-1] / fps,
        scenes=tuple(scenes), captions=tuple(all_cues), show_captions=captions, motion=motion,
        preset=preset, crf=crf,
    )


def segment_plan(timeline: Timeline, index: int) -> SegmentPlan:
    """What the renderer needs for scene `index`'s segment."""
    scene = timeline.scenes[index]
    previous = timeline.scenes[index - 1] if index > 0 else None
    carried = (1.0, 1.0)
    if previous is not None:
        # the previous image keeps zooming at its own rate while it fades out
        rate = (previous.zoom[1] - previous.zoom[0]) / previous.duration
        carried = (previous.zoom[1], previous.zoom[1] + rate * scene.fade_in)
    return SegmentPlan(
        image=scene.image, duration=scene.duration, width=timeline.width, height=timeline.height,
        fps=timeline.fps, motion=timeline.motion, zoom_from=scene.zoom[0], zoom_to=scene.zoom[1],
        previous_image=previous.image if previous else None,
        previous_zoom=carried,
        fade_in=scene.fade_in if previous else 0.0, captions=scene.captions,
        preset=timeline.preset, crf=timeline.crf,
    )
