"""Media plumbing shared by every renderer: probing (PyAV), audio concatenation, join and mux (ffmpeg)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import av
from pydantic import BaseModel, ConfigDict

from providers.base import SegmentPlan
from providers.errors import InvalidOutputError, MediaError
from providers.media.files import atomic_path
from providers.media.process import run_ffmpeg

__all__ = ["MediaInfo", "VideoPackets", "audio_duration", "check_segment", "concat_audio", "join_and_mux", "probe",
           "segment_frames", "vendor_audio_duration", "video_packets"]


class MediaInfo(BaseModel):
    """What a media file holds, as read from its container."""

    model_config = ConfigDict(frozen=True)

    duration: float
    video_codec: str | None = None
    audio_codec: str | None = None
    width: int = 0
    height: int = 0
    fps: float = 0.0
    video_duration: float = 0.0
    audio_duration: float = 0.0
    video_frames: int = 0
    size_bytes: int = 0


def _stream_seconds(stream: av.stream.Stream, container_duration: float) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    return container_duration


def probe(path: Path) -> MediaInfo:
    """Read the streams of `path`; raise MediaError if it is not a readable media file."""
    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        raise MediaError(f"no media file at {path}")
    try:
        with av.open(str(path)) as container:
            total = float(container.duration or 0) / 1_000_000
            info: dict[str, object] = {"duration": total, "size_bytes": path.stat().st_size}
            if container.streams.video:
                v = container.streams.video[0]
                info.update(
                    video_codec=v.codec_context.name,
                    width=v.codec_context.width,
                    height=v.codec_context.height,
                    fps=float(v.average_rate or v.guessed_rate or 0),
                    video_duration=_stream_seconds(v, total),
                    video_frames=int(v.frames or 0),
                )
            if container.streams.audio:
                a = container.streams.audio[0]
                info.update(audio_codec=a.codec_context.name, audio_duration=_stream_seconds(a, total))
    except av.error.FFmpegError as exc:
        raise MediaError(f"cannot read {path.name}: {exc}") from exc
    return MediaInfo.model_validate(info)


def audio_duration(path: Path) -> float:
    """Duration in seconds of an audio file, decoded exactly (container headers can be off)."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams.audio[0]
            samples = sum(frame.samples for frame in container.decode(stream))
            return samples / float(stream.codec_context.sample_rate)
    except (av.error.FFmpegError, IndexError) as exc:
        raise MediaError(f"cannot read audio {Path(path).name}: {exc}") from exc


def concat_audio(paths: Sequence[Path], out_path: Path, *, sample_rate: int = 48000, length: float | None = None,
                 timeout: float = 600) -> Path:
    """Decode, resample and join audio files end to end into one WAV, padded or cut to `length` seconds."""
    if not paths:
        raise MediaError("no audio to join")
    inputs: list[str | Path] = []
    for p in paths:
        inputs += ["-i", p]
    chains = "".join(f"[{i}:a]aresample={sample_rate},aformat=channel_layouts=mono[a{i}];" for i in range(len(paths)))
    joined = "".join(f"[a{i}]" for i in range(len(paths)))
    fit = f",apad=whole_dur={length:.6f},atrim=end={length:.6f}" if length else ""
    graph = f"{chains}{joined}concat=n={len(paths)}:v=0:a=1{fit}[out]"
    with atomic_path(out_path) as tmp:
        run_ffmpeg([*inputs, "-filter_complex", graph, "-map", "[out]", "-c:a", "pcm_s16le", tmp], timeout=timeout)
    return out_path


class VideoPackets(BaseModel):
    """The video packets of a file, read without decoding: display times, decoding times, key frames."""

    model_config = ConfigDict(frozen=True)

    pts: tuple[float, ...]  # seconds, in decoding order
    dts: tuple[float, ...]  # seconds, in decoding order
    keyframe: tuple[bool, ...]

    @property
    def count(self) -> int:
        """Number of frames."""
        return len(self.pts)

    def key_frame_indices(self, fps: float) -> list[int]:
        """Display-order frame numbers of the key frames."""
        first = min(self.pts) if self.pts else 0.0
        return sorted(round((p - first) * fps) for p, k in zip(self.pts, self.keyframe, strict=True) if k)


def video_packets(path: Path) -> VideoPackets:
    """Demux (not decode) the first video stream of `path`."""
    pts: list[float] = []
    dts: list[float] = []
    keys: list[bool] = []
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            tb = float(stream.time_base or 0)
            for packet in container.demux(stream):
                if not packet.size or packet.pts is None:
                    continue
                pts.append(packet.pts * tb)
                dts.append((packet.dts if packet.dts is not None else packet.pts) * tb)
                keys.append(bool(packet.is_keyframe))
    except (av.error.FFmpegError, IndexError) as exc:
        raise MediaError(f"cannot read the video of {Path(path).name}: {exc}") from exc
    return VideoPackets(pts=tuple(pts), dts=tuple(dts), keyframe=tuple(keys))


def _cut(segment: Path, keep: int, fps: int) -> str:
    """Concat-list directives that keep the first `keep` frames of `segment` (dropping at most the last one).

    Segments end on a forced key frame that is also last in decoding order, so stopping the demuxer
    before that packet drops exactly that frame and leaves a decodable stream; `duration` makes the
    next segment start right after the kept frames.
    """
    packets = video_packets(segment)
    if keep == packets.count:
        return f"duration {keep / fps:.9f}\n"
    if keep != packets.count - 1:
        raise MediaError(f"{segment.name} has {packets.count} frames; cannot keep {keep} without re-encoding")
    order = sorted(packets.dts)
    last_pts = max(packets.pts)
    final = packets.dts[packets.pts.index(last_pts)]
    if final != order[-1] or not packets.keyframe[packets.pts.index(last_pts)]:
        raise MediaError(f"{segment.name} does not end on a key frame that decodes last; it cannot be cut")
    outpoint = (order[-2] + order[-1]) / 2
    return f"outpoint {outpoint:.9f}\nduration {keep / fps:.9f}\n"


def join_and_mux(
    segments: Sequence[Path],
    audio: Path,
    out_path: Path,
    *,
    keep: Sequence[int] | None = None,
    fps: int | None = None,
    audio_filter: str = "",
    audio_bitrate: str = "192k",
    copy_audio: bool = False,
    timeout: float = 600,
) -> Path:
    """Join video segments without re-encoding, add the audio, and write `out_path` atomically.

    The audio is encoded as AAC, or copied as it is with `copy_audio` (an AAC soundtrack made
    beforehand). With `keep` (frames per segment) and `fps`, each segment is cut to that many frames.
    """
    if not segments:
        raise MediaError("no video segments to join")
    if keep is not None and (fps is None or len(keep) != len(segments)):
        raise MediaError("join_and_mux needs one frame count per segment and the frame rate")
    list_file = out_path.with_name(f".{out_path.stem}.segments.txt")
    list_file.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for i, s in enumerate(segments):
        lines.append(f"file '{Path(s).resolve().as_posix()}'\n")
        if keep is not None and fps is not None:
            lines.append(_cut(Path(s), keep[i], fps))
    list_file.write_text("".join(lines))
    if copy_audio:
        audio_args = ["-c:a", "copy"]
    else:
        audio_args = [*(["-af", audio_filter] if audio_filter else []), "-c:a", "aac", "-b:a", audio_bitrate]
    try:
        with atomic_path(out_path) as tmp:
            run_ffmpeg(
                ["-f", "concat", "-safe", "0", "-i", list_file, "-i", audio,
                 "-map", "0:v:0", "-map", "1:a:0", "-c:v", "copy", *audio_args, "-movflags", "+faststart", tmp],
                timeout=timeout,
            )
    finally:
        list_file.unlink(missing_ok=True)
    return out_path


def segment_frames(plan: SegmentPlan) -> int:
    """Frames in `plan`'s segment: its duration on whole frames."""
    return max(1, round(plan.duration * plan.fps))


def check_segment(path: Path, plan: SegmentPlan) -> None:
    """Raise MediaError unless the segment at `path` has the plan's frames and size and ends on a key frame."""
    info = probe(path)
    if (info.width, info.height) != (plan.width, plan.height):
        raise MediaError(f"segment {Path(path).name} is {info.width}x{info.height}, "
                         f"expected {plan.width}x{plan.height}")
    packets = video_packets(path)
    frames = segment_frames(plan)
    if packets.count != frames:
        raise MediaError(f"segment {Path(path).name} has {packets.count} frames, expected {frames}")
    keys = packets.key_frame_indices(plan.fps)
    if not keys or keys[0] != 0 or (frames > 1 and keys[-1] != frames - 1):
        raise MediaError(f"segment {Path(path).name} must start and end on key frames (key frames at {keys[:4]})")


def vendor_audio_duration(path: Path, vendor: str) -> float:
    """Duration of audio a vendor returned; InvalidOutputError when it cannot be decoded or is empty."""
    try:
        duration = audio_duration(path)
    except MediaError as exc:
        raise InvalidOutputError(f"{vendor} returned audio that cannot be decoded") from exc
    if duration <= 0:
        raise InvalidOutputError(f"{vendor} returned empty audio")
    return duration
