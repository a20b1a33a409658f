"""Render presets: the table, how a preset wins over resolution and aspect, and each one rendering (probed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from providers.media.audio import Soundtrack, mix_audio
from providers.media.files import file_digest
from providers.media.streams import probe
from providers.registry import resolve
from tasks.compose import finish_video
from tasks.render_presets import PRESETS, encoder_settings, get_preset
from tasks.schemas import Aspect, Narration, RenderSpec, SceneImage, WordTiming
from tasks.timeline import lay_out, segment_plan
from tests.fakes.media import wav_tone


def test_the_presets_and_their_frames() -> None:
    frames = {name: (p.width, p.height, p.aspect, p.codec) for name, p in PRESETS.items()}
    assert frames == {
        "youtube-1080p": (1920, 1080, "16:9", "h264"),
        "shorts": (1080, 1920, "9:16", "h264"),
        "square": (1080, 1080, "1:1", "h264"),
        "draft-720p": (1280, 720, "16:9", "h264"),
        "4k": (3840, 2160, "16:9", "hevc"),
    }
    with pytest.raises(ValueError, match="choose one of"):
        get_preset("8k")


def test_a_preset_sets_the_frame_whatever_the_resolution_and_aspect() -> None:
    assert RenderSpec(preset="shorts", resolution="360p").frame_size(Aspect.landscape) == (1080, 1920)
    assert RenderSpec(resolution="720p").frame_size(Aspect.portrait) == (720, 1280)
    assert RenderSpec(preset="4k").codec_family() == "hevc"


def test_quality_maps_to_encoder_preset_and_crf() -> None:
    assert encoder_settings("standard") == ("veryfast", 23)
    assert encoder_settings("high") == ("medium", 20)
    assert encoder_settings("high", "hevc") == ("medium", 24)
    assert RenderSpec(preset="draft-720p", quality="high").encoder_settings() == ("ultrafast", 28)  # capped
    assert RenderSpec(preset="youtube-1080p", quality="draft").encoder_settings() == ("ultrafast", 28)


def _inputs(tmp: Path, seconds: list[float]) -> tuple[list[Narration], list[SceneImage]]:
    narrations, images = [], []
    for i, d in enumerate(seconds):
        wav = tmp / f"n{i}.wav"
        wav.write_bytes(wav_tone(d, level=0.3))
        words = (WordTiming(word="Bees", start=0.05, end=0.2), WordTiming(word="dance.", start=0.25, end=0.4))
        narrations.append(Narration(index=i, audio=wav, duration=d, words=words, digest=file_digest(wav)))
        png = tmp / f"i{i}.png"
        Image.new("RGB", (64, 48), (40 + 100 * i, 90, 160)).save(png)  # 4:3, cover-scaled to every shape
        images.append(SceneImage(index=i, path=png, width=64, height=48, digest=file_digest(png)))
    return narrations, images


@pytest.mark.parametrize("name", list(PRESETS))
def test_each_preset_renders_a_tiny_timeline(name: str, tmp_path: Path) -> None:
    render = RenderSpec(preset=name, fps=24, quality="draft", encoder="software")
    seconds = [0.3] if name == "4k" else [0.5, 0.45]  # x265 at 3840x2160 is slow to start: one scene
    narrations, images = _inputs(tmp_path, seconds)
    width, height = render.frame_size(Aspect.landscape)
    preset, crf = render.encoder_settings()
    codec = "libx265" if render.codec_family() == "hevc" else "libx264"
    timeline = lay_out(narrations, images, tmp_path / "a.m4a", "a", width=width, height=height, fps=24,
                       crossfade=0.2, captions=True, motion=True, preset=preset, crf=crf, codec=codec,
                       loudness=-14.0)
    renderer = resolve("renderer", "ffmpeg")
    segments = [renderer.render_segment(segment_plan(timeline, i), tmp_path / f"s{i}.mp4") for i in range(len(seconds))]
    soundtrack: Soundtrack = mix_audio(narrations[0].audio, tmp_path / "a.m4a", length=timeline.duration)
    out = tmp_path / f"{name}.mp4"
    finish_video.fn(str(tmp_path), timeline, segments, soundtrack, str(out), "t", "j", sum(seconds))
    info = probe(out)
    assert (info.width, info.height) == (width, height) == (PRESETS[name].width, PRESETS[name].height)
    assert info.fps == 24
    assert info.video_codec == ("hevc" if name == "4k" else "h264")
    assert info.video_duration == pytest.approx(sum(seconds), abs=1 / 24)
    assert info.audio_duration == pytest.approx(info.video_duration, abs=1 / 24)
    assert out.with_suffix(".srt").is_file() and out.with_suffix(".vtt").is_file()
