"""Media plumbing shared by every renderer: probing (PyAV), audio concatenation, join and mux (ffmpeg)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import av
from pydantic import BaseModel, ConfigDict

from providers.errors import MediaError
from providers.files import atomic_path
from providers.process import run_ffmpeg

__all__ = ["MediaInfo", "audio_duration", "concat_audio", "join_and_mux", "probe"]


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


def join_and_mux(
    segments: Sequence[Path],
    audio: Path,
    out_path: Path,
    *,
    audio_bitrate: str = "192k",
    timeout: float = 600,
) -> Path:
    """Join video segments without re-encoding, add the audio as AAC, and write `out_path` atomically."""
    if not segments:
        raise MediaError("no video segments to join")
    list_file = out_path.with_name(f".{out_path.stem}.segments.txt")
    list_file.parent.mkdir(parents=True, exist_ok=True)
    list_file.write_text("".join(f"file '{Path(s).resolve().as_posix()}'\n" for s in segments))
    try:
        with atomic_path(out_path) as tmp:
            run_ffmpeg(
                ["-f", "concat", "-safe", "0", "-i", list_file, "-i", audio,
                 "-map", "0:v:0", "-map", "1:a:0", "-c:v", "copy", "-c:a", "aac", "-b:a", audio_bitrate,
                 "-movflags", "+faststart", tmp],
                timeout=timeout,
            )
    finally:
        list_file.unlink(missing_ok=True)
    return out_path
