"""Stage 5: composition. Lay out the timeline, render each scene's segment, join, mux, probe, check."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import task

from providers.base import SegmentPlan
from providers.errors import MediaError
from providers.files import atomic_path, file_digest
from providers.media import MediaInfo, concat_audio, join_and_mux, probe
from providers.registry import resolve
from providers.settings import get_settings
from tasks.caching import resumable
from tasks.captions import to_srt, to_vtt
from tasks.naming import content_key, media_path
from tasks.progress import report
from tasks.retry import retry_transient
from tasks.schemas import Aspect, Narration, RenderSpec, SceneImage, Timeline, Video
from tasks.timeline import frame_bounds, lay_out

__all__ = ["build_timeline", "check_video", "finish_video", "render_segment", "segment_path"]


def _narration_track(run_dir: str, narrations: list[Narration], fps: int) -> Path:
    key = content_key([n.digest for n in narrations], fps)
    return Path(run_dir) / "audio" / f"narration-{key}.wav"


def _timeline_outputs(inputs: dict[str, Any]) -> list[Path]:
    return [_narration_track(inputs["run_dir"], inputs["narrations"], inputs["render"].fps)]


@task(name="build_timeline", cache_policy=resumable(_timeline_outputs), persist_result=True)
def build_timeline(run_dir: str, narrations: list[Narration], images: list[SceneImage], render: RenderSpec,
                   aspect: Aspect) -> Timeline:
    """Join the narration into one track and place every scene on the clock."""
    narrations = sorted(narrations, key=lambda n: n.index)
    images = sorted(images, key=lambda i: i.index)
    track = _narration_track(run_dir, narrations, render.fps)
    # the track is cut to whole video frames, so audio and video streams end together
    frames = frame_bounds([n.duration for n in narrations], render.fps)[-1]
    concat_audio([n.audio for n in narrations], track, length=frames / render.fps,
                 timeout=get_settings().ffmpeg_timeout)
    width, height = render.frame_size(aspect)
    preset, crf = render.encoder_settings()
    return lay_out(
        narrations, images, track, file_digest(track), width=width, height=height, fps=render.fps,
        crossfade=render.crossfade, captions=render.captions, motion=render.motion, preset=preset, crf=crf,
    )


def segment_path(run_dir: str, index: int, plan: SegmentPlan, digests: tuple[str, ...], renderer: str) -> Path:
    """Where scene `index`'s segment goes; image digests make an edited image a new segment."""
    key = content_key(plan.model_dump(mode="json"), digests, renderer)
    return media_path(run_dir, "segments", index, key, ".mp4")


def _segment_outputs(inputs: dict[str, Any]) -> list[Path]:
    return [segment_path(inputs["run_dir"], inputs["index"], inputs["plan"], inputs["digests"], inputs["renderer"])]


@task(name="render_segment", cache_policy=resumable(_segment_outputs), persist_result=True, retries=1,
      retry_delay_seconds=1, retry_condition_fn=retry_transient)
def render_segment(run_dir: str, index: int, plan: SegmentPlan, digests: tuple[str, ...], renderer: str,
                   total: int = 1) -> Path:
    """Render one scene's video segment with the renderer named by `renderer`."""
    out = segment_path(run_dir, index, plan, digests, renderer)
    resolve("renderer", renderer, timeout=get_settings().ffmpeg_timeout).render_segment(plan, out)
    report("composition", 1, total, f"scene {index + 1} rendered", "item")
    return out


def check_video(info: MediaInfo, timeline: Timeline, narration_seconds: float) -> list[str]:
    """Everything wrong with a rendered file: codecs, size, fps, length against the narration."""
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
    return problems


def _finish_outputs(inputs: dict[str, Any]) -> list[Path]:
    out = Path(inputs["out"])
    return [out, out.with_suffix(".srt")]


@task(name="finish_video", cache_policy=resumable(_finish_outputs), persist_result=True)
def finish_video(run_dir: str, timeline: Timeline, segments: list[Path], out: str, title: str, job: str,
                 narration_seconds: float) -> Video:
    """Join the segments, mux the narration, check the result, then move it into place with its captions.

    The video is written under a temporary name and renamed only after it probes correctly, so a
    failed or cancelled run never leaves a broken file at `out`.
    """
    target = Path(out)
    with atomic_path(target) as tmp:
        join_and_mux(segments, timeline.audio, tmp, timeout=get_settings().ffmpeg_timeout)
        info = probe(tmp)
        problems = check_video(info, timeline, narration_seconds)
        if problems:
            raise MediaError(f"the rendered video is wrong: {'; '.join(problems)}")
    srt = target.with_suffix(".srt")
    with atomic_path(srt) as tmp_srt:
        tmp_srt.write_text(to_srt(timeline.captions), encoding="utf-8")
    with atomic_path(target.with_suffix(".vtt")) as tmp_vtt:
        tmp_vtt.write_text(to_vtt(timeline.captions), encoding="utf-8")
    return Video(
        path=target, srt=srt, duration=info.video_duration, narration_duration=narration_seconds,
        width=info.width, height=info.height, fps=info.fps, video_codec=info.video_codec or "",
        audio_codec=info.audio_codec or "", size_bytes=target.stat().st_size, title=title,
        scenes=len(timeline.scenes), job_key=job, created_at=datetime.now(UTC),
    )
