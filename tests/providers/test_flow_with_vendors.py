"""The whole flow with vendors: OpenAI script, ElevenLabs voice, tiny diffusers images -> a real MP4."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.make_video import make_video
from providers.media.streams import probe
from providers.settings import get_settings
from tasks.schemas import Brief, Providers, RenderSpec
from tests.fakes.elevenlabs_server import FakeElevenLabs
from tests.fakes.openai_server import FakeOpenAI


def test_flow_with_openai_elevenlabs_and_diffusers(openai_server: FakeOpenAI,
                                                   elevenlabs_server: FakeElevenLabs,
                                                   tiny_sdxl: Path, diffusers_env: pytest.MonkeyPatch,
                                                   tmp_path: Path) -> None:
    diffusers_env.setenv("AURA_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    brief = Brief(topic="How honeybees communicate", duration=10, density="dense")
    providers = Providers(llm="openai:gpt-4o-mini", tts="elevenlabs:voice123",
                          images=f"diffusers:{tiny_sdxl}")
    out = tmp_path / "bees.mp4"

    video = make_video(brief=brief, render=RenderSpec(resolution="360p", fps=24, quality="draft"),
                       providers=providers, out=str(out))

    info = probe(out)
    assert (info.video_codec, info.audio_codec) == ("h264", "aac") and (info.width, info.height) == (640, 360)
    assert abs(info.video_duration - video.narration_duration) <= 1 / 24 + 1e-3
    assert video.scenes == 2
    assert [r.path for r in openai_server.requests] == ["/v1/chat/completions"]
    assert sorted(r.body["text"] for r in elevenlabs_server.requests) == sorted(
        r.body["text"] for r in elevenlabs_server.requests if r.path.endswith("/with-timestamps"))
    assert len(elevenlabs_server.requests) == 2
    images = sorted((tmp_path / "home" / "runs").glob("*/images/scene-*.png"))
    assert len(images) == 2
    assert out.with_suffix(".srt").read_text().startswith("1\n00:00:00")
