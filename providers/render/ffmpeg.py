"""Default renderer: one ffmpeg filter graph per scene segment (zoom, crossfade in, captions), one encode.

    image ─► cover-scale ×S, crop, yuv420p ─► zoompan (d = frames) ─────────────────┐
    previous image ─► same, continuing its zoom (d = fade frames) ─► alpha fade-out ─► overlay ─► captions ─► encoder
                                                                    caption PNGs ─► overlay, enabled per cue/word ┘

Measured on a 2-core machine (720p, 150 frames; x264 veryfast alone costs about 1.0 s of CPU):
- the image is decoded and scaled once; `zoompan` then makes every frame from that one picture.
  Looping the image input instead (`-loop 1`) decodes the PNG again for every frame (+1.3 s);
- the zoom source is cover-scaled to S× the frame (S=1.5 up to 1080p, 1 above) so that the zoom's
  whole-pixel steps are sub-pixel in the output; S=2 costs 0.35 s, S=1.5 0.28 s, S=1 0.13 s;
- the crossfade is an alpha fade of the previous image overlaid for the fade's frames only
  (+0.04 s); `xfade` costs +0.2 s because it keeps processing after the fade;
- caption overlays are enabled only while their words are spoken and cost almost nothing.
Footage clips (`plan.clip_seconds` > 0) are decoded from `clip_start` and looped when the scene is
longer; each is brought to the output rate first (`fps`, so a 60 fps or variable-rate source is not
scaled at its own rate), then cropped to the frame's shape and scaled, never stretched, with its audio
ignored.
ffmpeg applies a source's rotation metadata itself; 10-bit sources are converted to yuv420p.
Images of another aspect are cover-scaled and cropped, never stretched. The last frame is forced
to be an IDR key frame so that the join can drop it without re-encoding (see `providers.media.streams`).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from providers.base import SegmentPlan
from providers.media.caption_art import caption_spans, layout_caption, render_caption, save_png
from providers.media.encoders import encoder_setup
from providers.media.files import atomic_path
from providers.media.process import run_ffmpeg
from providers.media.streams import check_segment, segment_frames

__all__ = ["CaptionImage", "FFmpegRenderer", "caption_images", "fade_frames", "segment_graph", "supersample",
           "visual_inputs"]

# Segments rendered at once in this process, and encoder threads for each: as many processes as
# cores (up to 4), sharing the cores. On 2 cores, 2 segments at once with one x264 thread each took
# the same CPU time as x264's own threading, 10 % less wall time and 60 MB less memory per process.
_CORES = max(1, os.cpu_count() or 1)
_PARALLEL = min(_CORES, 4)
_SLOTS = threading.BoundedSemaphore(_PARALLEL)
_THREADS = max(1, _CORES // _PARALLEL)


def fade_frames(plan: SegmentPlan) -> int:
    """Frames of the crossfade at the start of the segment (0 without a previous image)."""
    if plan.previous_image is None:
        return 0
    return max(0, min(segment_frames(plan) - 1, round(plan.fade_in * plan.fps)))


def supersample(width: int, height: int) -> float:
    """How much larger than the frame the zoom source is: smoother motion, more work per frame.

    zoompan crops whole source pixels, so the zoom's centre can wobble by half a source pixel:
    1/3 of an output pixel at 1.5x. 2x (1/4 pixel) cost 11 % more CPU for the whole render at 720p.
    """
    return 1.5 if width * height <= 1920 * 1080 else 1.0


@dataclass(frozen=True)
class CaptionImage:
    """One caption picture, where it goes, and the frames [first, last) it is shown on."""

    path: Path
    x: int
    y: int
    first: int
    last: int


def caption_images(plan: SegmentPlan, folder: Path) -> list[CaptionImage]:
    """Draw the segment's caption pictures (one per cue, or one per spoken word for karaoke) into `folder`."""
    frames = segment_frames(plan)
    images: list[CaptionImage] = []
    for i, cue in enumerate(plan.captions):
        words = [w.word for w in cue.words] if plan.caption_style == "karaoke" and cue.words else None
        layout = layout_caption(cue.text, plan.width, plan.height, words)
        for highlight, start, end in caption_spans(cue, plan.caption_style):
            first, last = max(0, round(start * plan.fps)), min(frames, round(end * plan.fps))
            if last <= first:
                continue
            path = save_png(render_caption(layout, highlight), folder / f"cue{i:03d}-{len(images):04d}.png")
            images.append(CaptionImage(path, layout.x, layout.y, first, last))
    return images


def _zoom_chain(label_in: str, label_out: str, plan: SegmentPlan, frames: int, z0: float, z1: float) -> str:
    w, h = plan.width, plan.height
    scale = supersample(w, h) if plan.motion else 1.0
    sw, sh = 2 * round(w * scale / 2), 2 * round(h * scale / 2)
    step = (z1 - z0) / max(1, frames - 1)
    return (
        f"[{label_in}]scale={sw}:{sh}:force_original_aspect_ratio=increase:flags=bicubic,"
        f"crop={sw}:{sh},format=yuv420p,setsar=1,"
        f"zoompan=z='{z0:.6f}+{step:.8f}*on':x='(iw-iw/zoom)/2':y='(ih-ih/zoom)/2'"
        f":d={frames}:s={w}x{h}:fps={plan.fps}[{label_out}]"
    )


def _clip_chain(label_in: str, label_out: str, plan: SegmentPlan, frames: int) -> str:
    w, h = plan.width, plan.height
    # the rate first: frames that `fps` drops are never scaled; `trim` ends the (looping) input. Then the
    # crop to the frame's shape before the scale, so that pixels cropped away are never scaled (a portrait
    # clip in a landscape frame would otherwise be scaled up to 1.8x the frame's height first)
    return (
        f"[{label_in}]setpts=PTS-STARTPTS,fps={plan.fps},trim=end_frame={frames},"
        f"crop='min(iw,ih*{w}/{h})':'min(ih,iw*{h}/{w})',"
        f"scale={w}:{h}:flags=bicubic,format=yuv420p,setsar=1[{label_out}]"
    )


def visual_inputs(path: Path, clip_seconds: float, start: float) -> list[str | Path]:
    """ffmpeg input arguments for one visual: a still as it is, a clip from `start`, looped, without its audio."""
    if clip_seconds <= 0:
        return ["-i", path]
    return ["-stream_loop", "-1", "-ss", f"{start:.6f}", "-an", "-sn", "-dn", "-i", path]


def segment_graph(plan: SegmentPlan, captions: list[CaptionImage]) -> tuple[str, str]:
    """The filter graph for `plan` and the label of its output.

    Inputs: 0 is the image, 1 the previous image when fading in, then one PNG per caption picture.
    """
    frames = segment_frames(plan)
    z0, z1 = (plan.zoom_from, plan.zoom_to) if plan.motion else (1.0, 1.0)
    if plan.clip_seconds:
        parts = [_clip_chain("0:v", "cur", plan, frames)]
    else:
        parts = [_zoom_chain("0:v", "cur", plan, frames, z0, z1)]
    last = "cur"
    next_input = 1
    fading = fade_frames(plan)
    if fading:
        pz0, pz1 = plan.previous_zoom if plan.motion else (1.0, 1.0)
        if plan.previous_clip_seconds:
            parts.append(_clip_chain("1:v", "prev", plan, fading))
        else:
            parts.append(_zoom_chain("1:v", "prev", plan, fading, pz0, pz1))
        # alpha falls from 1 on the first frame to 1/fading on the last; then the overlay passes `cur` through
        parts.append(f"[prev]format=yuva420p,fade=t=out:st=0:d={fading / plan.fps:.6f}:alpha=1[prevfade]")
        parts.append("[cur][prevfade]overlay=eof_action=pass:format=yuv420[faded]")
        last = "faded"
        next_input = 2
    half = 0.5 / plan.fps
    for i, cap in enumerate(captions):
        out = f"c{i}"
        a, b = cap.first / plan.fps - half, cap.last / plan.fps - half
        parts.append(
            f"[{last}][{next_input + i}:v]overlay=x={cap.x}:y={cap.y}:eof_action=repeat:format=yuv420"
            f":enable='gte(t,{a:.4f})*lt(t,{b:.4f})'[{out}]"
        )
        last = out
    return ";".join(parts), last


class FFmpegRenderer:
    """Renderer `ffmpeg` (default)."""

    def __init__(self, model: str = "", timeout: float = 600.0, threads: int | None = None, **_: Any) -> None:
        self.timeout = timeout
        self.threads = threads or _THREADS

    def render_segment(self, plan: SegmentPlan, out_path: Path) -> Path:
        """Render one scene's segment, video only, exactly `duration * fps` frames ending on a key frame."""
        frames = segment_frames(plan)
        out_path = Path(out_path)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=".captions-", dir=out_path.parent))
        try:
            inputs = visual_inputs(plan.image, plan.clip_seconds, plan.clip_start)
            if fade_frames(plan):
                assert plan.previous_image is not None
                inputs += visual_inputs(plan.previous_image, plan.previous_clip_seconds, plan.previous_clip_start)
            captions = caption_images(plan, work)
            for cap in captions:
                inputs += ["-i", cap.path]
            graph, label = segment_graph(plan, captions)
            setup = encoder_setup(plan.codec, plan.preset, plan.crf, frames=frames, threads=self.threads)
            if setup.filter_tail:
                graph, label = f"{graph};[{label}]null{setup.filter_tail}[enc]", "enc"
            with _SLOTS, atomic_path(out_path) as tmp:
                run_ffmpeg(
                    [*setup.input_args, *inputs, "-filter_complex", graph, "-map", f"[{label}]",
                     "-frames:v", str(frames), *setup.output_args, "-r", str(plan.fps),
                     "-video_track_timescale", str(plan.fps * 1000), "-an", tmp],
                    timeout=self.timeout,
                )
                check_segment(tmp, plan)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return out_path

