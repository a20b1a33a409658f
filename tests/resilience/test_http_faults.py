"""HTTP faults at a fake vendor, seen through the real SDKs and real Prefect task runs.

500 twice then success, 401, 429 with Retry-After, and garbage bodies. Every test runs the stage's
task inside a small flow, so that Prefect's retries, `retry_condition_fn` and the stage metrics are
the real ones; the fake records when each request arrived, so the waits between retries are measured.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from prefect import flow

from providers.base import ImageRequest
from providers.errors import AuthenticationError, InvalidOutputError
from tasks.runtime.metrics import StageMeter
from tasks.runtime.retry import retry_count
from tasks.schemas import Brief, Narration, SceneImage, Script, StageMetrics
from tasks.script import write_script
from tasks.visuals import generate_scene_image
from tasks.voice import synthesize_narration, voice_settings
from tests.fakes.elevenlabs_server import FakeElevenLabs
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.server import Fault
from tests.resilience.conftest import topic

CHAT = "/chat/completions"
LLM = "openai:gpt-4o-mini"


@flow(name="resilience-script-stage")
def script_stage(brief: Brief, llm: str) -> tuple[Script, StageMetrics]:
    """The flow's script stage on its own: the task, its retries and its stage metrics."""
    meter = StageMeter()
    meter.start("script", llm, "write_script")
    state = write_script(brief, llm, return_state=True)
    script = state.result()
    return script, meter.finish("script", [state], degraded=script.fallback_reason)


def _brief(what: str) -> Brief:
    return Brief(topic=topic(what), duration=10, density="sparse")


def test_500_twice_then_success_is_retried_with_backoff_and_counted(openai_fake: FakeOpenAI) -> None:
    openai_fake.script(500, 500, path=CHAT)

    script, metrics = script_stage(_brief("500"), LLM)

    assert script.provider == LLM and script.fallback_reason is None
    assert openai_fake.count(CHAT) == 3 and openai_fake.pending() == 0
    assert metrics.retries == 2 and metrics.degraded is None
    first, second = openai_fake.gaps(CHAT)
    print(f"\n500, 500, 200: waited {first:.2f} s then {second:.2f} s")
    # backoff 1 s then 2 s, each ±20 % jitter; slack for Prefect's own state changes on a busy machine
    assert 0.8 <= first <= 1.2 + 2.5, first
    assert 1.6 <= second <= 2.4 + 2.5, second


def test_a_dropped_connection_is_retried(openai_fake: FakeOpenAI) -> None:
    openai_fake.script("drop", path=CHAT)  # the server closes the connection without a status line

    script, metrics = script_stage(_brief("drop"), LLM)

    assert script.provider == LLM and metrics.retries == 1 and openai_fake.count(CHAT) == 2


def test_401_is_not_retried_and_names_the_key(openai_fake: FakeOpenAI) -> None:
    openai_fake.mode = "401"
    before = retry_count("write_script")

    with pytest.raises(AuthenticationError) as info:
        script_stage(_brief("401"), LLM)

    message = str(info.value)
    assert "HTTP 401" in message and "OPENAI_API_KEY" in message
    assert openai_fake.key not in message and "sk-live" not in message  # a 401 body may quote the key
    assert openai_fake.count(CHAT) == 1  # permanent: Prefect did not retry
    assert retry_count("write_script") == before


def test_429_waits_as_long_as_retry_after_says(openai_fake: FakeOpenAI) -> None:
    # the second wait asks for more than the backoff's 1.6-2.4 s, in the header OpenAI sends in ms
    openai_fake.script(Fault(429, retry_after="3"), Fault(429, headers={"Retry-After-Ms": "3500"}), path=CHAT)

    script, metrics = script_stage(_brief("429"), LLM)

    assert script.provider == LLM and metrics.retries == 2
    seconds, ms = openai_fake.gaps(CHAT)
    print(f"\n429 Retry-After: 3 -> waited {seconds:.2f} s; 429 Retry-After-Ms: 3500 -> waited {ms:.2f} s")
    # without the headers the retries would come after 0.8-1.2 s and 1.6-2.4 s: no sooner than asked proves
    # the header was read (no upper bound: a loaded machine only makes the wait longer)
    assert seconds >= 3.0, seconds
    assert ms >= 3.5, ms


def test_garbage_script_gets_one_repair_then_fails_clearly(openai_fake: FakeOpenAI) -> None:
    openai_fake.replies.extend(["<<<not json at all>>>", "still {not json"])

    with pytest.raises(InvalidOutputError, match="did not return a JSON script, even after a repair request"):
        script_stage(_brief("garbage"), LLM)

    assert openai_fake.count(CHAT) == 2  # the answer and one repair request; permanent, so no task retry
    repair = openai_fake.requests[-1].body["messages"]
    assert repair[-2]["content"] == "<<<not json at all>>>" and "not a valid JSON object" in repair[-1]["content"]


def test_garbage_script_falls_back_where_configured(openai_fake: FakeOpenAI, env: pytest.MonkeyPatch) -> None:
    from providers.settings import get_settings

    env.setenv("AURA_FALLBACK_LLM", "local")
    get_settings.cache_clear()
    openai_fake.replies.extend(["<<<not json at all>>>", "still {not json"])

    script, metrics = script_stage(_brief("garbage-fallback"), LLM)

    assert script.provider == "local" and len(script.scenes) >= 1
    assert metrics.degraded and metrics.degraded.startswith(f"{LLM}: OpenAI did not return a JSON script")
    assert openai_fake.count(CHAT) == 2 and metrics.retries == 0


def test_garbage_http_body_is_invalid_output_not_a_crash(openai_fake: FakeOpenAI, env: pytest.MonkeyPatch) -> None:
    openai_fake.script("garbage", path=CHAT)  # HTTP 200, Content-Type JSON, an HTML error page inside

    with pytest.raises(InvalidOutputError, match="not JSON"):
        script_stage(_brief("garbage-body"), LLM)
    assert openai_fake.count(CHAT) == 1


@flow(name="resilience-voice-stage")
def voice_stage(run_dir: str, text: str, tts: str) -> Narration:
    return synthesize_narration(run_dir, 0, text, tts, voice_settings(_brief("voice")))


def test_garbage_audio_falls_back_to_the_local_voice(elevenlabs_fake: FakeElevenLabs, env: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    from providers.settings import get_settings

    env.setenv("AURA_FALLBACK_TTS", "local")
    get_settings.cache_clear()
    elevenlabs_fake.mode = "malformed"  # a truncated JSON body where the audio and timings should be

    narration = voice_stage(str(tmp_path / "run"), f"Bees dance to talk {time.time()}.", "elevenlabs:voice1")

    assert narration.provider == "local" and narration.duration > 0.3
    assert narration.fallback_reason and "ElevenLabs" in narration.fallback_reason
    assert elevenlabs_fake.count() == 1  # invalid output is permanent: straight to the fallback


@flow(name="resilience-visuals-stage")
def visuals_stage(run_dir: str, request: ImageRequest, images: str) -> SceneImage:
    return generate_scene_image(run_dir, 0, request, images)


def test_a_garbage_image_becomes_a_drawn_card(openai_fake: FakeOpenAI, tmp_path: Path) -> None:
    openai_fake.mode = "malformed"  # no fallback configured: a scene never goes missing, it gets a card
    request = ImageRequest(prompt="a honeybee", title="The dance", text="Bees dance.", width=320, height=180,
                           seed=int(time.time()))

    image = visuals_stage(str(tmp_path / "run"), request, "openai:gpt-image-1")

    assert image.provider == "local" and image.degraded and Path(image.path).is_file()
    assert image.fallback_reason and "openai:gpt-image-1" in image.fallback_reason
    assert openai_fake.count("/images/generations") == 1
