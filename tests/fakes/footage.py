"""Real, small footage made with ffmpeg for the tests: odd sizes, variable frame rate, rotated, 10-bit, short."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from providers.media.process import run_ffmpeg

__all__ = ["make_clip", "make_picture"]


def make_clip(path: Path, width: int, height: int, seconds: float = 1.0, fps: int = 25, *, vfr: bool = False,
              rotate: int = 0, audio: bool = False, ten_bit: bool = False, pattern: str = "testsrc2") -> Path:
    """A moving test pattern clip (H.264 in MP4) with the given quirks; returns `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    odd = width % 2 or height % 2
    pix = "yuv420p10le" if ten_bit else ("yuv444p" if odd else "yuv420p")  # 4:2:0 needs even sizes
    args: list[str | Path] = ["-f", "lavfi", "-i", f"{pattern}=size={width}x{height}:rate={fps}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}", "-c:a", "aac", "-shortest"]
    if vfr:  # irregular frame intervals: every third frame comes late
        args += ["-vf", f"setpts='(N+0.45*mod(N,3))/({fps}*TB)'", "-fps_mode", "vfr", "-enc_time_base", "1/1000"]
    args += ["-t", f"{seconds}", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", pix, "-g", str(fps)]
    if not rotate:
        run_ffmpeg([*args, path], timeout=60)
        return path
    plain = path.with_name(f".plain-{path.name}")
    run_ffmpeg([*args, plain], timeout=60)
    run_ffmpeg(["-display_rotation:v", str(rotate), "-i", plain, "-c", "copy", path], timeout=60)
    plain.unlink()
    return path


def make_picture(path: Path, width: int, height: int, colour: tuple[int, int, int] = (0, 128, 128)) -> Path:
    """A still picture (format from the suffix: .jpg, .png) of diagonal bands tinted `colour`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    y, x = np.mgrid[0:height, 0:width]
    bands = ((x + y) // 16 % 2 * 120).astype(np.uint8)
    arr = np.stack([(bands + c // 2).astype(np.uint8) for c in colour], axis=-1)
    Image.fromarray(arr).save(path)
    return path
