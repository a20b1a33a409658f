"""Renderer `moviepy`: the same segment plan rendered through moviepy 2, the way its users write it.

It is the reference for the approach peer tools take (and a fallback), written as well as idiomatic
moviepy allows so that the comparison with the ffmpeg renderer is fair:
- each image is an `ImageClip`, cover-scaled once (a constant `resized` is applied to the still,
  not to every frame), then zoomed with `resized(lambda t: ...)` and centred in a
  `CompositeVideoClip` of the frame size, which crops it; the previous image, continuing its zoom,
  lies on top for the fade and goes with `vfx.CrossFadeOut`; a footage clip is a `VideoFileClip`
  (audio off) looped with `vfx.Loop` from its start point and cover-scaled per frame;
- captions are `TextClip`s (the font comes from Aura's fallback chain, so Cyrillic, CJK and Arabic
  work): one per phrase on a translucent `ColorClip`, or, for karaoke, one per word placed where the
  phrase's layout puts it, with a highlighted copy of the word while it is spoken;
- `write_videofile` encodes with the same codec, preset and CRF as the ffmpeg renderer, and the same
  forced key frame at the end so that the segments join the same way.
Every frame is composited in Python (numpy and Pillow); that is the cost this renderer shows.
`write_videofile` runs its own ffmpeg, outside Aura's timeouts: a hung encode is not killed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from moviepy import (  # the `moviepy` extra
    ColorClip,
    CompositeVideoClip,
    ImageClip,
    TextClip,
    VideoClip,
    VideoFileClip,
    concatenate_videoclips,
    vfx,
)

from providers.base import CaptionCue, SegmentPlan
from providers.media.caption_art import BOX, HIGHLIGHT, TEXT, caption_spans, join_tokens, layout_caption
from providers.media.files import atomic_path
from providers.media.fonts import BUNDLED_FONT, font_path_for
from providers.media.streams import check_segment, segment_frames

__all__ = ["MoviePyRenderer", "segment_clip"]


def _zooming(image: Path, plan: SegmentPlan, duration: float, z0: float, z1: float,
             fade_out: float = 0.0) -> VideoClip:
    still = ImageClip(str(image), duration=duration)
    cover = max(plan.width / still.w, plan.height / still.h)
    still = still.resized(cover)  # once, on the still image
    if fade_out:
        # before the zoom, so that the fade's mask is zoomed with the picture
        still = still.with_effects([vfx.CrossFadeOut(fade_out)])
    if not plan.motion:
        return still.with_position("center")
    span = max(duration - 1 / plan.fps, 1e-6)
    w, h = still.size

    def zoom(t: float) -> float:
        return z0 + (z1 - z0) * min(t, span) / span

    # "center" would use the clip's starting size; a growing clip needs its position per frame
    return still.resized(zoom).with_position(lambda t: ((plan.width - w * zoom(t)) / 2,
                                                        (plan.height - h * zoom(t)) / 2))


def _footage(path: Path, plan: SegmentPlan, duration: float, start: float, fade_out: float = 0.0) -> VideoClip:
    """A footage clip played from `start` (looping), cover-scaled per frame and centred; its audio ignored."""
    source = VideoFileClip(str(path), audio=False)
    looped = source.with_effects([vfx.Loop(duration=start + duration)]).subclipped(start, start + duration)
    cover = max(plan.width / source.w, plan.height / source.h)
    moving = looped.resized(cover)
    if fade_out:
        moving = moving.with_effects([vfx.CrossFadeOut(fade_out)])
    return moving.with_position("center")


def _visual(image: Path, plan: SegmentPlan, duration: float, zoom: tuple[float, float], clip_seconds: float,
            start: float, fade_out: float = 0.0) -> VideoClip:
    if clip_seconds:
        return _footage(image, plan, duration, start, fade_out)
    return _zooming(image, plan, duration, *zoom, fade_out=fade_out)


def _font(text: str) -> str:
    return str(font_path_for(text) or BUNDLED_FONT)


def _caption_clips(cue: CaptionCue, plan: SegmentPlan, end_of_segment: float) -> list[VideoClip]:
    karaoke = plan.caption_style == "karaoke" and bool(cue.words)
    words = [w.word for w in cue.words] if karaoke else None
    layout = layout_caption(cue.text, plan.width, plan.height, words)
    start, end = cue.start, min(cue.end, end_of_segment)
    if end - start <= 0:
        return []
    font, size, stroke = _font(cue.text), layout.font_size, max(1, layout.font_size // 16)
    box = (ColorClip((layout.box_width, layout.box_height), color=BOX[:3]).with_opacity(BOX[3] / 255)
           .with_position((layout.x, layout.y)).with_start(start).with_duration(end - start))
    clips: list[VideoClip] = [box]

    def word_clip(text: str, colour: tuple[int, ...], x: int, y: int, t0: float, t1: float) -> VideoClip:
        return (TextClip(font=font, text=text, font_size=size, color=colour[:3], stroke_color="black",
                         stroke_width=stroke, margin=(stroke, stroke))
                .with_position((layout.x + x - stroke, layout.y + y - stroke)).with_start(t0).with_duration(t1 - t0))

    if not karaoke:
        # one TextClip per line, centred where the layout puts the line
        for row_y in sorted({w.y for w in layout.words}):
            row = [w for w in layout.words if w.y == row_y]
            left = min(w.x for w in row)
            text = join_tokens([w.text for w in (reversed(row) if layout.rtl else row)])
            clips.append(word_clip(text, TEXT, left, row_y, start, end))
        return clips
    for placed in layout.words:
        clips.append(word_clip(placed.text, TEXT, placed.x, placed.y, start, end))
    for highlight, t0, t1 in caption_spans(cue, "karaoke"):
        t1 = min(t1, end)
        if highlight is None or t1 <= t0:
            continue
        for placed in layout.words:
            if placed.index == highlight:
                clips.append(word_clip(placed.text, HIGHLIGHT, placed.x, placed.y, t0, t1))
    return clips


def _codec(plan: SegmentPlan) -> str:
    # moviepy drives software encoders; a hardware encoder in the plan maps to its software family
    return "libx265" if plan.codec == "libx265" or plan.codec.startswith("hevc") else "libx264"


def _encoder_params(plan: SegmentPlan, frames: int) -> list[str]:
    """The ffmpeg renderer's encoder settings, for moviepy's writer."""
    hevc = ["-forced-idr", "1", "-x265-params", "open-gop=0:log-level=error", "-tag:v", "hvc1"]
    return ["-crf", str(plan.crf), "-frames:v", str(frames), "-video_track_timescale", str(plan.fps * 1000),
            *(hevc if _codec(plan) == "libx265" else [])]


def segment_clip(plan: SegmentPlan) -> tuple[VideoClip, int]:
    """One scene composited as moviepy users write it, and its number of frames."""
    frames = segment_frames(plan)
    # moviepy writes int(duration * fps) frames: half a frame more keeps float error from losing one
    duration = (frames + 0.5) / plan.fps
    layers: list[VideoClip] = []
    fade = min(frames - 1, round(plan.fade_in * plan.fps)) / plan.fps if plan.previous_image else 0.0
    layers.append(_visual(plan.image, plan, duration, (plan.zoom_from, plan.zoom_to), plan.clip_seconds,
                          plan.clip_start))
    if plan.previous_image is not None and fade > 0:
        # the outgoing image (still zooming) or clip (still playing) fades out on top of the new one
        layers.append(_visual(plan.previous_image, plan, fade, plan.previous_zoom, plan.previous_clip_seconds,
                              plan.previous_clip_start, fade_out=fade))
    for cue in plan.captions:
        layers += _caption_clips(cue, plan, frames / plan.fps)
    clip = CompositeVideoClip(layers, size=(plan.width, plan.height), bg_color=(0, 0, 0)).with_duration(duration)
    return clip, frames


def _close(video: VideoClip) -> None:
    """Close a composition and its layers: a footage layer holds an ffmpeg reader process."""
    for layer in getattr(video, "clips", ()):
        layer.close()
    video.close()


class MoviePyRenderer:
    """Renderer `moviepy`: per-frame compositing in Python, encoded by moviepy's ffmpeg writer."""

    def __init__(self, model: str = "", timeout: float = 600.0, threads: int | None = None, **_: Any) -> None:
        self.threads = threads

    def render_segment(self, plan: SegmentPlan, out_path: Path) -> Path:
        """Render one scene's segment, video only, exactly `duration * fps` frames."""
        video, frames = segment_clip(plan)
        out_path = Path(out_path)
        with atomic_path(out_path) as tmp:
            video.write_videofile(
                str(tmp), fps=plan.fps, codec=_codec(plan), preset=plan.preset, audio=False, threads=self.threads,
                pixel_format="yuv420p", logger=None,
                # the same forced key frame at the end as the ffmpeg renderer, so that segments join the same way
                ffmpeg_params=["-force_key_frames", f"expr:eq(n,{frames - 1})", *_encoder_params(plan, frames)],
            )
            _close(video)
            check_segment(tmp, plan)
        return out_path

    def render_in_one_pass(self, plans: Sequence[SegmentPlan], keep: Sequence[int], audio: Path,
                           out_path: Path) -> Path:
        """The whole video as peer tools make it: every scene in one composition, encoded with its audio at once.

        Not used by the flow (it cannot resume, cache or spread scenes over workers); the render
        benchmark's reference for the one-pass approach. `keep[i]` is how many of scene i's frames
        stay, as in the join of the segmented render.
        """
        scenes = []
        for plan, frames in zip(plans, keep, strict=True):
            clip, _ = segment_clip(plan)
            scenes.append(clip.subclipped(0, frames / plan.fps))
        total = sum(keep)
        first = plans[0]
        video = concatenate_videoclips(scenes).with_duration((total + 0.5) / first.fps)
        out_path = Path(out_path)
        with atomic_path(out_path) as tmp:
            video.write_videofile(
                str(tmp), fps=first.fps, codec=_codec(first), preset=first.preset, audio=str(audio),
                audio_codec="aac", threads=self.threads, pixel_format="yuv420p", logger=None,
                ffmpeg_params=_encoder_params(first, total),
            )
            for scene in scenes:
                _close(scene)
            video.close()
        return out_path
