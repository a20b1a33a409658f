"""Default renderer: one ffmpeg filter graph per scene segment (zoom, crossfade in, captions).

The image is cover-scaled to twice the frame size and zoomed with `zoompan` (the 2x source keeps
the pan smooth); the previous scene's image, continuing its own zoom, cross-fades into this one
at the start of the segment; caption PNGs are overlaid while their words are spoken.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from providers.base import SegmentPlan
from providers.caption_art import draw_caption
from providers.files import atomic_path
from providers.process import run_ffmpeg

__all__ = ["FFmpegRenderer", "segment_graph"]

_SCALE = 2  # zoom source resolution, as a multiple of the output size


def _zoom_chain(label_in: str, label_out: str, plan: SegmentPlan, frames: int, z0: float, z1: float) -> str:
    w, h = plan.width, plan.height
    sw, sh = w * _SCALE, h * _SCALE
    step = (z1 - z0) / max(1, frames - 1)
    return (
        f"[{label_in}]scale={sw}:{sh}:force_original_aspect_ratio=increase:flags=bicubic,"
        f"crop={sw}:{sh},setsar=1,"
        f"zoompan=z='{z0:.6f}+{step:.8f}*on':x='(iw-iw/zoom)/2':y='(ih-ih/zoom)/2'"
        f":d={frames}:s={w}x{h}:fps={plan.fps},format=yuv420p[{label_out}]"
    )


def segment_graph(plan: SegmentPlan, caption_positions: list[tuple[int, int]]) -> tuple[str, str]:
    """The filter graph for `plan` and the label of its output.

    Inputs: 0 is the image, 1 the previous image when fading in, then one PNG per caption cue.
    """
    frames = max(1, round(plan.duration * plan.fps))
    z0, z1 = (plan.zoom_from, plan.zoom_to) if plan.motion else (1.0, 1.0)
    parts = [_zoom_chain("0:v", "cur", plan, frames, z0, z1)]
    last = "cur"
    next_input = 1
    fade_frames = min(frames - 1, round(plan.fade_in * plan.fps))
    if plan.previous_image is not None and fade_frames > 0:
        pz0, pz1 = plan.previous_zoom if plan.motion else (1.0, 1.0)
        parts.append(_zoom_chain("1:v", "prev", plan, fade_frames + 1, pz0, pz1))
        fade = fade_frames / plan.fps
        parts.append(f"[prev][cur]xfade=transition=fade:duration={fade:.6f}:offset=0[faded]")
        last = "faded"
        next_input = 2
    for i, (cue, (x, y)) in enumerate(zip(plan.captions, caption_positions, strict=True)):
        out = f"c{i}"
        parts.append(
            f"[{last}][{next_input + i}:v]overlay=x={x}:y={y}:eof_action=repeat"
            f":enable='between(t,{cue.start:.3f},{cue.end:.3f})'[{out}]"
        )
        last = out
    return ";".join(parts), last


class FFmpegRenderer:
    """Renderer `ffmpeg` (default)."""

    def __init__(self, model: str = "", timeout: float = 600.0, **_: Any) -> None:
        self.timeout = timeout

    def render_segment(self, plan: SegmentPlan, out_path: Path) -> Path:
        """Render one scene's segment, video only, exactly `duration * fps` frames."""
        frames = max(1, round(plan.duration * plan.fps))
        work = Path(tempfile.mkdtemp(prefix=".captions-", dir=Path(out_path).parent))
        try:
            inputs: list[str | Path] = ["-i", plan.image]
            fading = plan.previous_image is not None and min(frames - 1, round(plan.fade_in * plan.fps)) > 0
            if fading:
                assert plan.previous_image is not None
                inputs += ["-i", plan.previous_image]
            positions = []
            for i, cue in enumerate(plan.captions):
                png = work / f"cue{i:03d}.png"
                positions.append(draw_caption(cue.text, plan.width, plan.height, png))
                inputs += ["-i", png]
            graph, label = segment_graph(plan, positions)
            with atomic_path(out_path) as tmp:
                run_ffmpeg(
                    [*inputs, "-filter_complex", graph, "-map", f"[{label}]", "-frames:v", str(frames),
                     "-c:v", plan.codec, "-preset", plan.preset, "-crf", str(plan.crf), "-pix_fmt", "yuv420p",
                     "-r", str(plan.fps), "-video_track_timescale", str(plan.fps * 1000), "-an", tmp],
                    timeout=self.timeout,
                )
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return out_path
