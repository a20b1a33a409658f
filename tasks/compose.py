"""Stage 5: composition. Lay out the timeline, render each scene's segment, join, mux, probe, check.

    build_timeline ──┬──► render_segment ×scene (cached per scene) ──┬──► finish_video
    (pure layout;    │    (zoom, crossfade in, captions; own clock)   │    (join without re-encoding,
     encoder chosen  └──► mix_soundtrack (alongside the segments) ────┘     mux, probe, check, .srt/.vtt)
     by test encode)      (narration + music, ducked, -14 LUFS, AAC)
"""

from __future__ import annotations

import errno
import os
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import task

from providers.base import SegmentPlan
from providers.errors import ConfigurationError, MediaError
from providers.media.audio import Loudness, Soundtrack, mix_audio
from providers.media.encoders import choose_encoder
from providers.media.files import atomic_path, file_digest
from providers.media.streams import MediaInfo, VideoPackets, concat_audio, join_and_mux, probe, video_packets
from providers.registry import resolve
from tasks.captions import to_srt, to_vtt
from tasks.naming import content_key, media_path
from tasks.runtime.caching import record_outputs, resumable
from tasks.runtime.profiles import DEFAULT_RETRIES, ffmpeg_timeout
from tasks.runtime.progress import report
from tasks.runtime.retry import retry_transient
from tasks.schemas import Aspect, Narration, RenderSpec, SceneImage, Timeline, Video
from tasks.timeline import lay_out

__all__ = ["build_timeline", "check_loudness", "check_video", "finish_video", "mix_soundtrack", "place_together",
           "render_segment", "segment_path", "soundtrack_path", "staging_path"]

LOUDNESS_TOLERANCE = 1.0  # LU around the target that the finished file may be off


def _narration_track(run_dir: str, narrations: list[Narration], fps: int) -> Path:
    key = content_key([n.digest for n in narrations], fps)
    return Path(run_dir) / "audio" / f"narration-{key}.wav"


def _music_file(render: RenderSpec) -> Path | None:
    if not render.music:
        return None
    path = Path(render.music).expanduser()
    if not path.is_file():
        raise ConfigurationError(f"the music file {path} does not exist: check --music")
    return path


def soundtrack_path(run_dir: str, narrations: list[Narration], render: RenderSpec) -> Path:
    """Where the soundtrack goes; the music file's content is part of its name, so an edited file is remixed."""
    music = _music_file(render)
    spoken = [n.digest for n in sorted(narrations, key=lambda n: n.index)]
    key = content_key(spoken, render.fps, file_digest(music) if music else "", render.music_db, render.loudness)
    return Path(run_dir) / "audio" / f"soundtrack-{key}.m4a"


@task(name="build_timeline", cache_policy=resumable(), persist_result=True)
def build_timeline(run_dir: str, narrations: list[Narration], images: list[SceneImage], render: RenderSpec,
                   aspect: Aspect) -> Timeline:
    """Place every scene on the clock from its narration and choose the encoder (by a test encode)."""
    narrations = sorted(narrations, key=lambda n: n.index)
    images = sorted(images, key=lambda i: i.index)
    track = soundtrack_path(run_dir, narrations, render)
    width, height = render.frame_size(aspect)
    preset, crf = render.encoder_settings()
    return lay_out(
        narrations, images, track, track.stem.removeprefix("soundtrack-"), width=width, height=height,
        fps=render.fps, crossfade=render.crossfade, captions=render.captions, motion=render.motion, preset=preset,
        crf=crf, codec=choose_encoder(render.codec_family(), render.encoder), caption_style=render.caption_style,
        loudness=render.loudness, music=render.music != "",
    )


def _soundtrack_outputs(inputs: dict[str, Any]) -> list[Path]:
    return [soundtrack_path(inputs["run_dir"], inputs["narrations"], inputs["render"])]


@task(name="mix_soundtrack", cache_policy=resumable(_soundtrack_outputs), persist_result=True,
      retries=DEFAULT_RETRIES, retry_delay_seconds=1, retry_condition_fn=retry_transient)
def mix_soundtrack(run_dir: str, narrations: list[Narration], render: RenderSpec, length: float) -> Soundtrack:
    """Join the narration, mix in the music (ducked under speech), normalise the loudness, encode AAC."""
    narrations = sorted(narrations, key=lambda n: n.index)
    timeout = ffmpeg_timeout()
    track = _narration_track(run_dir, narrations, render.fps)
    # the soundtrack is cut to whole video frames, so audio and video streams end together
    concat_audio([n.audio for n in narrations], track, length=length, timeout=timeout)
    try:
        return mix_audio(track, soundtrack_path(run_dir, narrations, render), length=length,
                         music=_music_file(render), music_db=render.music_db, loudness=render.loudness,
                         timeout=timeout)
    finally:
        track.unlink(missing_ok=True)


def segment_path(run_dir: str, index: int, plan: SegmentPlan, digests: tuple[str, ...], renderer: str) -> Path:
    """Where scene `index`'s segment goes; image digests make an edited image a new segment."""
    key = content_key(plan.model_dump(mode="json"), digests, renderer)
    return media_path(run_dir, "segments", index, key, ".mp4")


def _segment_outputs(inputs: dict[str, Any]) -> list[Path]:
    return [segment_path(inputs["run_dir"], inputs["index"], inputs["plan"], inputs["digests"], inputs["renderer"])]


@task(name="render_segment", cache_policy=resumable(_segment_outputs), persist_result=True,
      retries=DEFAULT_RETRIES, retry_delay_seconds=1, retry_condition_fn=retry_transient)
def render_segment(run_dir: str, index: int, plan: SegmentPlan, digests: tuple[str, ...], renderer: str,
                   total: int = 1) -> Path:
    """Render one scene's video segment with the renderer named by `renderer`."""
    out = segment_path(run_dir, index, plan, digests, renderer)
    resolve("renderer", renderer, timeout=ffmpeg_timeout()).render_segment(plan, out)
    report("composition", 1, total, f"scene {index + 1} rendered", "item")
    return out


def check_video(info: MediaInfo, timeline: Timeline, narration_seconds: float,
                packets: VideoPackets | None = None, segments: int | None = None) -> list[str]:
    """Everything wrong with a rendered file: streams, size, fps, length against the narration, missing scenes."""
    frame = 1 / timeline.fps
    problems = []
    if info.video_codec is None or info.audio_codec is None:
        problems.append("the file lacks a video or an audio stream")
    if (info.width, info.height) != (timeline.width, timeline.height):
        problems.append(f"frame size {info.width}x{info.height}, expected {timeline.width}x{timeline.height}")
    if abs(info.fps - timeline.fps) > 0.01:
        problems.append(f"{info.fps:g} fps, expected {timeline.fps}")
    if abs(info.video_duration - narration_seconds) > frame + 1e-3:
        problems.append(f"video lasts {info.video_duration:.3f} s, narration {narration_seconds:.3f} s")
    if abs(info.audio_duration - info.video_duration) > frame + 1e-3:
        problems.append(f"audio lasts {info.audio_duration:.3f} s, video {info.video_duration:.3f} s")
    expected = round(timeline.duration * timeline.fps)
    if info.video_frames and abs(info.video_frames - expected) > 1:
        problems.append(f"{info.video_frames} frames, expected {expected}")
    if segments is not None and segments != len(timeline.scenes):
        problems.append(f"{segments} segments for {len(timeline.scenes)} scenes")
    if packets is not None:
        if packets.count != expected:
            problems.append(f"{packets.count} frames in the stream, expected {expected}")
        # every segment starts on a key frame, so each scene's first frame must be one: a scene that is
        # missing, doubled or cut short moves or removes one of these
        keys = set(packets.key_frame_indices(timeline.fps))
        starts = [round(s.start * timeline.fps) for s in timeline.scenes]
        missing = [i for i, start in enumerate(starts) if start not in keys]
        if missing:
            problems.append(f"scene(s) {', '.join(str(i + 1) for i in missing)} missing or misplaced "
                            f"(no key frame where they start)")
    return problems


def check_loudness(measured: Loudness, timeline: Timeline) -> list[str]:
    """What is wrong with the soundtrack's loudness: integrated level off target, true peak over the limit."""
    if timeline.loudness is None or measured.integrated <= -70:
        return []  # silence, or less than one 400 ms measuring block: no loudness to normalise
    problems = []
    if abs(measured.integrated - timeline.loudness) > LOUDNESS_TOLERANCE:
        problems.append(f"loudness {measured.integrated:.1f} LUFS, expected {timeline.loudness:.1f}")
    if measured.true_peak > timeline.true_peak:
        problems.append(f"true peak {measured.true_peak:.1f} dBTP, above {timeline.true_peak:.1f}")
    return problems


def _finish_outputs(inputs: dict[str, Any]) -> list[Path]:
    out = Path(inputs["out"])
    return [out, out.with_suffix(".srt"), out.with_suffix(".vtt")]


def _finish_stamps(inputs: dict[str, Any]) -> Path:
    return Path(inputs["run_dir"]) / "stamps"  # not beside the video: the user's folder gets the video only


def staging_path(run_dir: str, final: Path) -> Path:
    """Where `final` is written before it is moved into place: the run folder, never the user's."""
    return Path(run_dir) / "finish" / f".{final.stem}.{uuid.uuid4().hex[:8]}.partial{final.suffix}"


def _move(staged: Path, final: Path) -> None:
    """Rename `staged` to `final`; across file systems, copy beside `final` first so that the rename is atomic."""
    try:
        os.replace(staged, final)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        try:
            with atomic_path(final) as tmp:  # the one case where a partial file sits in the user's folder
                shutil.copy2(staged, tmp)  # keeps the modification time the cache stamp recorded
        except OSError as copy:
            if copy.errno == errno.ENOSPC:
                raise MediaError(f"the disk is full: {final.name} could not be written (No space left on "
                                 f"device); free space in {final.parent}") from None
            raise
        staged.unlink(missing_ok=True)


def place_together(files: list[tuple[Path, Path]]) -> None:
    """Move each (staged, final) pair into place, the last one (the video) last; all of them or none."""
    placed: list[Path] = []
    try:
        for staged, final in files:
            final.parent.mkdir(parents=True, exist_ok=True)
            _move(staged, final)
            placed.append(final)
    except BaseException:
        for final in placed:
            final.unlink(missing_ok=True)
        raise


@task(name="finish_video", cache_policy=resumable(_finish_outputs, _finish_stamps, verified=True),
      persist_result=True, retries=DEFAULT_RETRIES, retry_delay_seconds=1, retry_condition_fn=retry_transient)
def finish_video(run_dir: str, timeline: Timeline, segments: list[Path], soundtrack: Soundtrack, out: str,
                 title: str, job: str, narration_seconds: float) -> Video:
    """Join the segments, mux the soundtrack (both without re-encoding), check the result, then move it into place.

    Everything is written in the run folder and moved to `out` only after the video probes correctly,
    captions first and the video last, so a failed, cancelled or killed run leaves nothing at `out`,
    and the video appears with its captions. Their size and digest are recorded first, so that a later
    run re-makes them when `out` holds another file. The soundtrack's loudness was measured on the
    very AAC stream that is muxed.
    """
    target = Path(out)
    srt, vtt = target.with_suffix(".srt"), target.with_suffix(".vtt")
    staged = {final: staging_path(run_dir, final) for final in (srt, vtt, target)}
    keep = [round(s.duration * timeline.fps) for s in timeline.scenes]
    try:
        staged[target].parent.mkdir(parents=True, exist_ok=True)
        join_and_mux(segments, soundtrack.path, staged[target], keep=keep, fps=timeline.fps, copy_audio=True,
                     timeout=ffmpeg_timeout())
        info = probe(staged[target])
        problems = check_video(info, timeline, narration_seconds, video_packets(staged[target]), len(segments))
        problems += check_loudness(soundtrack.loudness, timeline)
        if problems:
            raise MediaError(f"the rendered video is wrong: {'; '.join(problems)}")
        staged[srt].write_text(to_srt(timeline.captions), encoding="utf-8")
        staged[vtt].write_text(to_vtt(timeline.captions, word_times=timeline.caption_style == "karaoke"),
                               encoding="utf-8")
        size = staged[target].stat().st_size
        record_outputs([(final, tmp) for final, tmp in staged.items()], _finish_stamps({"run_dir": run_dir}))
        place_together([(tmp, final) for final, tmp in staged.items()])
    finally:
        for tmp in staged.values():
            tmp.unlink(missing_ok=True)
    return Video(
        path=target, srt=srt, duration=info.video_duration, narration_duration=narration_seconds,
        width=info.width, height=info.height, fps=info.fps, video_codec=info.video_codec or "",
        audio_codec=info.audio_codec or "", size_bytes=size, title=title,
        scenes=len(timeline.scenes), job_key=job, created_at=datetime.now(UTC),
    )
