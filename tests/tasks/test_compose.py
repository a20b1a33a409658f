"""Composition through Prefect: segments cached per scene (counted), exactness checks, the finished files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from prefect import flow, unmapped
from prefect.futures import wait
from prefect.task_runners import ThreadPoolTaskRunner

from providers.media.files import file_digest
from providers.media.streams import MediaInfo, VideoPackets, probe
from tasks.compose import build_timeline, check_video, finish_video, mix_soundtrack, render_segment
from tasks.schemas import Aspect, Narration, RenderSpec, SceneImage, Timeline, WordTiming
from tasks.timeline import image_digests, lay_out, segment_plan
from tests.fakes.media import wav_tone

RENDER = RenderSpec(resolution="360p", fps=24, quality="draft", crossfade=0.2, encoder="software")


def _narration(folder: Path, index: int, seconds: float) -> Narration:
    wav = folder / f"voice-{index}-{seconds}.wav"
    wav.write_bytes(wav_tone(seconds, freq=200 + 40 * index, level=0.3))
    words = (WordTiming(word="Bees", start=0.05, end=0.2), WordTiming(word="dance.", start=0.22, end=0.4))
    return Narration(index=index, audio=wav, duration=int(24000 * seconds) / 24000, words=words,
                     digest=file_digest(wav))


def _image(folder: Path, index: int, colour: tuple[int, int, int]) -> SceneImage:
    png = folder / f"image-{index}-{colour[0]}.png"
    Image.new("RGB", (64, 36), colour).save(png)
    return SceneImage(index=index, path=png, width=64, height=36, digest=file_digest(png))


@flow(task_runner=ThreadPoolTaskRunner(max_workers=3))
def compose(run_dir: str, narrations: list[Narration], images: list[SceneImage], render: RenderSpec,
            out: str) -> dict[str, Any]:
    """The composition block of the make-video flow, on its own."""
    timeline = build_timeline(run_dir, narrations, images, render, Aspect.landscape)
    soundtrack = mix_soundtrack.submit(run_dir, narrations, render, timeline.duration)
    n = len(timeline.scenes)
    plans = [segment_plan(timeline, i) for i in range(n)]
    digests = [image_digests(timeline, i) for i in range(n)]
    segments = render_segment.map(unmapped(run_dir), range(n), plans, digests, unmapped("ffmpeg"), total=unmapped(n))
    wait(segments)
    soundtrack.wait()
    finished = finish_video(run_dir, timeline, segments.result(), soundtrack.result(), out, "Bees", "job",
                            sum(x.duration for x in narrations), return_state=True)
    return {"segments": [f.state.name for f in segments], "soundtrack": soundtrack.state.name,
            "finish": finished.name, "video": finished.result()}


def _ran(result: dict[str, Any]) -> list[int]:
    return [i for i, state in enumerate(result["segments"]) if state != "Cached"]


def test_editing_one_scene_re_renders_only_what_changed(tmp_path: Path) -> None:
    run, out = str(tmp_path / "run"), str(tmp_path / "bees.mp4")
    narrations = [_narration(tmp_path, i, d) for i, d in enumerate([0.6, 0.5, 0.55])]
    images = [_image(tmp_path, i, (60 * i + 40, 120, 180)) for i in range(3)]

    first = compose(run, narrations, images, RENDER, out)
    assert _ran(first) == [0, 1, 2] and first["finish"] == "Completed"
    video = first["video"]
    assert video.duration == pytest.approx(1.65, abs=1 / 24) and video.scenes == 3

    again = compose(run, narrations, images, RENDER, out)
    assert _ran(again) == [] and again["soundtrack"] == "Cached" and again["finish"] == "Cached"

    # scene 2 is spoken again, 0.2 s longer: its segment, the soundtrack and the join only
    narrations[1] = _narration(tmp_path, 1, 0.7)
    edited = compose(run, narrations, images, RENDER, out)
    assert _ran(edited) == [1]
    assert edited["soundtrack"] == "Completed" and edited["finish"] == "Completed"
    assert probe(Path(out)).video_duration == pytest.approx(1.85, abs=1 / 24)

    # scene 2 gets a new picture: its segment, and scene 3's, whose first 0.2 s cross-fade out of it
    images[1] = _image(tmp_path, 1, (250, 20, 20))
    repainted = compose(run, narrations, images, RENDER, out)
    assert _ran(repainted) == [1, 2] and repainted["soundtrack"] == "Cached" and repainted["finish"] == "Completed"

    # without crossfades a new picture touches its own segment only
    cut = RENDER.model_copy(update={"crossfade": 0.0})
    compose(run, narrations, images, cut, out)
    images[1] = _image(tmp_path, 1, (20, 250, 20))
    assert _ran(compose(run, narrations, images, cut, out)) == [1]

    # a deleted segment file is rendered again, not served stale from the cache
    segment_files = sorted((tmp_path / "run" / "segments").glob("scene-000-*.mp4"))
    for f in segment_files:
        f.unlink()
    assert _ran(compose(run, narrations, images, cut, out)) == [0]


def _timeline(scenes: int = 3) -> Timeline:
    narrations = [Narration(index=i, audio=Path(f"/{i}.wav"), duration=1.0, words=(), digest=str(i))
                  for i in range(scenes)]
    images = [SceneImage(index=i, path=Path(f"/{i}.png"), width=8, height=8, digest=str(i)) for i in range(scenes)]
    return lay_out(narrations, images, Path("/a.m4a"), "a", width=640, height=360, fps=24, crossfade=0.5,
                   captions=False, motion=True, preset="ultrafast", crf=30)


def _info(**changes: Any) -> MediaInfo:
    values: dict[str, Any] = {"duration": 3.0, "video_codec": "h264", "audio_codec": "aac", "width": 640,
                              "height": 360, "fps": 24.0, "video_duration": 3.0, "audio_duration": 3.0,
                              "video_frames": 72}
    return MediaInfo(**{**values, **changes})


def _packets(keys: set[int], frames: int = 72) -> VideoPackets:
    pts = tuple(n / 24 for n in range(frames))
    return VideoPackets(pts=pts, dts=pts, keyframe=tuple(n in keys for n in range(frames)))


def test_a_correct_file_passes_every_check() -> None:
    assert check_video(_info(), _timeline(), 3.0, _packets({0, 24, 48, 71}), 3) == []


def test_the_checks_name_what_is_wrong() -> None:
    timeline = _timeline()
    assert "frame size 1280x720" in check_video(_info(width=1280, height=720), timeline, 3.0)[0]
    assert "25 fps" in check_video(_info(fps=25.0), timeline, 3.0)[0]
    assert "narration 3.000" in check_video(_info(video_duration=3.1, audio_duration=3.1), timeline, 3.0)[0]
    assert "audio lasts" in check_video(_info(audio_duration=2.8), timeline, 3.0)[0]
    assert check_video(_info(), timeline, 3.0, None, 2) == ["2 segments for 3 scenes"]
    problems = check_video(_info(), timeline, 3.0, _packets({0, 48, 71}))
    assert problems == ["scene(s) 2 missing or misplaced (no key frame where they start)"]
    assert "frames in the stream" in check_video(_info(), timeline, 3.0, _packets({0, 24, 48}, frames=70))[0]


def test_the_finished_files_and_a_wrong_segment_is_refused(tmp_path: Path) -> None:
    run, out = str(tmp_path / "run"), str(tmp_path / "bees.mp4")
    narrations = [_narration(tmp_path, i, d) for i, d in enumerate([0.6, 0.5])]
    images = [_image(tmp_path, i, (200, 90, 40)) for i in range(2)]
    result = compose(run, narrations, images, RENDER.model_copy(update={"caption_style": "karaoke"}), out)
    video = result["video"]
    assert video.width == 640 and video.height == 360 and video.fps == 24 and video.scenes == 2
    assert "Bees dance." in Path(out).with_suffix(".srt").read_text()
    assert "<00:00:00.220>dance." in Path(out).with_suffix(".vtt").read_text()
    timeline = build_timeline.fn(run, narrations, images, RENDER, Aspect.landscape)
    segments = sorted((tmp_path / "run" / "segments").glob("scene-*.mp4"))[:1] * 2  # scene 1 twice
    soundtrack = mix_soundtrack.fn(run, narrations, RENDER, timeline.duration)
    from providers.errors import MediaError

    with pytest.raises(MediaError):
        finish_video.fn(run, timeline, segments, soundtrack, str(tmp_path / "wrong.mp4"), "t", "j", 1.1)
    assert not (tmp_path / "wrong.mp4").exists()


def test_loudness_checks() -> None:
    from providers.media.audio import Loudness
    from tasks.compose import check_loudness

    timeline = _timeline().model_copy(update={"loudness": -14.0})
    assert check_loudness(Loudness(integrated=-14.3, true_peak=-1.6), timeline) == []
    assert check_loudness(Loudness(integrated=-16.0, true_peak=-0.5), timeline) == [
        "loudness -16.0 LUFS, expected -14.0", "true peak -0.5 dBTP, above -1.0"]
    assert check_loudness(Loudness(integrated=-70.0, true_peak=-60.0), timeline) == []  # too short to measure
