"""Video encoders: a hardware encoder when a short test encode proves it works here, else libx264/libx265.

An encoder listed by `ffmpeg -encoders` is only compiled in; whether a GPU, a driver and a device
node are there is known only by using it. So each candidate encodes a few frames, and passes only
if the result has what Aura's segment joins rely on: every frame, and a forced key frame at the end
that is also last in decoding order (so that the join can drop it without re-encoding).
Results are cached per process.
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import av

from providers.errors import ConfigurationError
from providers.media.process import ffmpeg_exe

__all__ = ["HARDWARE", "SOFTWARE", "EncoderSetup", "choose_encoder", "encoder_setup", "hardware_encoders",
           "listed_encoders", "try_encode"]

SOFTWARE: dict[str, str] = {"h264": "libx264", "hevc": "libx265"}
HARDWARE: dict[str, tuple[str, ...]] = {
    "h264": ("h264_nvenc", "h264_qsv", "h264_vaapi", "h264_videotoolbox", "h264_amf"),
    "hevc": ("hevc_nvenc", "hevc_qsv", "hevc_vaapi", "hevc_videotoolbox", "hevc_amf"),
}
_VAAPI_DEVICE = "/dev/dri/renderD128"
# x264-style speed presets -> NVENC's p1 (fastest) .. p7 (best)
_NVENC_PRESET = {"ultrafast": "p1", "superfast": "p2", "veryfast": "p3", "faster": "p3", "fast": "p4",
                 "medium": "p5", "slow": "p6", "slower": "p7", "veryslow": "p7"}


@dataclass(frozen=True)
class EncoderSetup:
    """What an ffmpeg command needs around its filter graph to encode with one encoder."""

    encoder: str
    input_args: list[str] = field(default_factory=list)  # before the first -i (devices)
    filter_tail: str = ""  # appended to the graph's last chain (upload to the device)
    output_args: list[str] = field(default_factory=list)


def encoder_setup(encoder: str, preset: str, crf: int, *, frames: int | None = None,
                  threads: int | None = None) -> EncoderSetup:
    """Arguments for `encoder` at an x264-style speed `preset` and quality `crf`.

    With `frames`, the last frame is forced to be an IDR key frame, so that a join can cut it off.
    """
    last_key = ["-force_key_frames", f"expr:eq(n,{frames - 1})"] if frames and frames > 1 else []
    if encoder in ("libx264", "libx265"):
        out = ["-c:v", encoder, "-preset", preset, "-crf", str(crf), "-pix_fmt", "yuv420p", *last_key]
        if threads:
            out += ["-threads", str(threads)]
        if encoder == "libx265":
            # closed GOPs so that the forced key frame is a clean cut; hvc1 for Apple players
            pools = f":pools={threads}:frame-threads={threads}" if threads else ""
            out += ["-forced-idr", "1", "-tag:v", "hvc1", "-x265-params", f"open-gop=0:log-level=error{pools}"]
        return EncoderSetup(encoder, output_args=out)
    if encoder.endswith("_nvenc"):
        tag = ["-tag:v", "hvc1"] if encoder.startswith("hevc") else []
        return EncoderSetup(encoder, output_args=[
            "-c:v", encoder, "-preset", _NVENC_PRESET.get(preset, "p4"), "-rc", "vbr", "-cq", str(crf), "-b:v", "0",
            "-pix_fmt", "yuv420p", "-forced-idr", "1", *last_key, *tag])
    if encoder.endswith("_qsv"):
        qsv_presets = ("veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")
        qsv_preset = preset if preset in qsv_presets else "veryfast"
        return EncoderSetup(encoder, output_args=[
            "-c:v", encoder, "-preset", qsv_preset, "-global_quality", str(crf), "-pix_fmt", "nv12",
            "-forced_idr", "1", *last_key])
    if encoder.endswith("_vaapi"):
        return EncoderSetup(encoder, input_args=["-vaapi_device", _VAAPI_DEVICE], filter_tail=",format=nv12,hwupload",
                            output_args=["-c:v", encoder, "-rc_mode", "CQP", "-qp", str(crf), *last_key])
    if encoder.endswith("_videotoolbox"):
        quality = max(1, min(100, 100 - 2 * crf))
        return EncoderSetup(encoder, output_args=["-c:v", encoder, "-q:v", str(quality), "-pix_fmt", "yuv420p",
                                                  *last_key])
    if encoder.endswith("_amf"):
        return EncoderSetup(encoder, output_args=["-c:v", encoder, "-rc", "cqp", "-qp_i", str(crf), "-qp_p", str(crf),
                                                  "-qp_b", str(crf), "-pix_fmt", "yuv420p", *last_key])
    return EncoderSetup(encoder, output_args=["-c:v", encoder, "-pix_fmt", "yuv420p", *last_key])


@lru_cache(maxsize=4)
def listed_encoders(exe: str | None = None) -> frozenset[str]:
    """Encoder names this ffmpeg build knows (compiled in; not proof that they work)."""
    try:
        out = subprocess.run([exe or ffmpeg_exe(), "-hide_banner", "-encoders"], capture_output=True, text=True,
                             timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    names = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2 and len(parts[0]) == 6 and parts[0].startswith("V"):
            names.add(parts[1])
    return frozenset(names)


def try_encode(encoder: str, exe: str | None = None, timeout: float = 20.0) -> bool:
    """Encode six frames with `encoder`; True if every frame came out and the last is a clean key frame."""
    frames = 6
    setup = encoder_setup(encoder, "veryfast", 28, frames=frames)
    with tempfile.TemporaryDirectory(prefix="aura-encoder-") as tmp:
        out = Path(tmp) / "probe.mp4"
        cmd = [exe or ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", "-loglevel", "error", *setup.input_args,
               "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30", "-vf", f"format=yuv420p{setup.filter_tail}",
               "-frames:v", str(frames), *setup.output_args, str(out)]
        try:
            done = subprocess.run(cmd, capture_output=True, timeout=timeout, start_new_session=True)
        except (OSError, subprocess.SubprocessError):
            return False
        if done.returncode != 0 or not out.is_file():
            return False
        return _clean_last_key_frame(out, frames)


def _clean_last_key_frame(path: Path, frames: int) -> bool:
    try:
        with av.open(str(path)) as container:
            packets = [p for p in container.demux(container.streams.video[0]) if p.size]
    except (av.error.FFmpegError, IndexError):
        return False
    if len(packets) != frames:
        return False
    last = packets[-1]
    return bool(last.is_keyframe) and last.pts is not None and all(
        p.pts is not None and p.pts < last.pts for p in packets[:-1])


@lru_cache(maxsize=8)
def hardware_encoders(codec: str = "h264", exe: str | None = None) -> tuple[str, ...]:
    """The hardware encoders for `codec` that pass a test encode on this machine, best first."""
    listed = listed_encoders(exe)
    return tuple(name for name in HARDWARE.get(codec, ()) if name in listed and try_encode(name, exe))


def choose_encoder(codec: str = "h264", request: str = "auto", exe: str | None = None) -> str:
    """The encoder to use: `auto` (hardware if one works, else software), `software`, or a named encoder."""
    if codec not in SOFTWARE:
        raise ConfigurationError(f"unknown codec family {codec!r}: use h264 or hevc")
    if request == "software":
        return SOFTWARE[codec]
    if request == "auto":
        found = hardware_encoders(codec, exe)
        return found[0] if found else SOFTWARE[codec]
    if request in (SOFTWARE[codec], *HARDWARE[codec]) or request in listed_encoders(exe):
        if request == SOFTWARE[codec] or try_encode(request, exe):
            return request
        raise ConfigurationError(f"the encoder {request!r} does not work on this machine (test encode failed): "
                                 f"use encoder 'auto' or 'software'")
    raise ConfigurationError(f"unknown encoder {request!r}: use auto, software, {SOFTWARE[codec]} or one of "
                             f"{', '.join(HARDWARE[codec])}")
