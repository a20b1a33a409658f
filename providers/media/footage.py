"""Footage files: what a clip is (probe), and a copy cheap to decode when the source as it is would not be."""

from __future__ import annotations

from pathlib import Path

import av

from providers.errors import MediaError
from providers.media.files import atomic_path
from providers.media.process import run_ffmpeg
from providers.media.streams import MediaInfo, probe

__all__ = ["MAX_KEY_GAP", "clip_info", "conform_clip", "key_frame_gap", "needs_conform"]

# A clip is re-encoded once, when the scene's visual is made, into a copy the renders decode cheaply, when
# decoding it as it is would cost every render (and every re-render) far more than the video needs:
# - it has 1.5x the frame's pixels or more (a 4K clip for a 720p video is 9x): scaled down once;
# - its frame rate is 1.5x the video's or more (60 fps for 30): frames the video drops are never decoded;
# - its key frames are more than MAX_KEY_GAP apart: a scene starts, and the next one's crossfade carries
#   it, at points inside the clip, and a seek decodes everything since the key frame before (x264's
#   default GOP makes an 8-second stock clip one key frame: 7 s decoded to show 0.5 s).
CONFORM_PIXELS = 1.5
CONFORM_RATE = 1.5
MAX_KEY_GAP = 2.0


def clip_info(path: Path) -> MediaInfo:
    """The clip's size, length and frame rate; MediaError when it has no video or no length."""
    info = probe(path)
    if info.video_codec is None or info.width <= 0 or info.height <= 0:
        raise MediaError(f"{Path(path).name} has no video stream")
    if info.video_duration <= 0:
        raise MediaError(f"{Path(path).name} has no length")
    return info


def key_frame_gap(path: Path, seconds: float) -> float:
    """The longest stretch of the clip (seconds) without a key frame, from its packets (nothing decoded)."""
    times = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for packet in container.demux(stream):
            if packet.is_keyframe and packet.pts is not None and packet.time_base is not None:
                times.append(float(packet.pts * packet.time_base))
    times = sorted(times) + [seconds]
    return max((b - a for a, b in zip(times, times[1:], strict=False)), default=seconds)


def needs_conform(info: MediaInfo, key_gap: float, width: int, height: int, fps: int) -> bool:
    """True when decoding the source as it is would cost each render far more than the video needs."""
    return (info.width * info.height >= CONFORM_PIXELS * width * height or info.fps >= CONFORM_RATE * fps
            or key_gap > MAX_KEY_GAP)


def conform_clip(src: Path, out: Path, width: int, height: int, fps: int, timeout: float) -> Path:
    """`src` scaled to just cover width×height (aspect kept, never up), at `fps`, a key frame each second, no audio."""
    with atomic_path(out) as tmp:
        run_ffmpeg(
            ["-i", src, "-an", "-sn", "-dn",
             "-vf", f"fps={fps},scale='min(iw,max({width},iw*{height}/ih))':-2:flags=bicubic,format=yuv420p,setsar=1",
             "-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-g", str(fps), "-keyint_min", str(fps), tmp],
            timeout=timeout,
        )
    return out
