"""Footage files: what a clip is (probe), and a copy scaled to the video when the source is much larger."""

from __future__ import annotations

from pathlib import Path

from providers.errors import MediaError
from providers.media.files import atomic_path
from providers.media.process import run_ffmpeg
from providers.media.streams import MediaInfo, probe

__all__ = ["CONFORM_ABOVE", "clip_info", "conform_clip", "needs_conform"]

# a source with this many times the frame's pixels is scaled down once, when the visual is made, rather
# than decoded at full size for every frame of every render (a 4K clip for a 720p video is 9x)
CONFORM_ABOVE = 2.5


def clip_info(path: Path) -> MediaInfo:
    """The clip's size, length and frame rate; MediaError when it has no video or no length."""
    info = probe(path)
    if info.video_codec is None or info.width <= 0 or info.height <= 0:
        raise MediaError(f"{Path(path).name} has no video stream")
    if info.video_duration <= 0:
        raise MediaError(f"{Path(path).name} has no length")
    return info


def needs_conform(info: MediaInfo, width: int, height: int, fps: int) -> bool:
    """True when decoding the source for every frame would cost far more than the video needs."""
    return info.width * info.height > CONFORM_ABOVE * width * height or info.fps > 2.5 * fps


def conform_clip(src: Path, out: Path, width: int, height: int, fps: int, timeout: float) -> Path:
    """`src` scaled down to just cover width×height (aspect kept), at most `fps`, H.264 yuv420p, without audio."""
    with atomic_path(out) as tmp:
        run_ffmpeg(
            ["-i", src, "-an", "-sn", "-dn",
             "-vf", f"fps={fps},scale={width}:{height}:force_original_aspect_ratio=increase:flags=bicubic,"
                    "scale=trunc(iw/2)*2:trunc(ih/2)*2,format=yuv420p,setsar=1",
             "-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-g", str(fps), tmp],
            timeout=timeout,
        )
    return out
