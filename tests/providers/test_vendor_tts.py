"""ElevenLabs and OpenAI voices through their real SDKs against local fake servers, real MP3 audio."""

from __future__ import annotations

from pathlib import Path

import pytest

from providers.base import VoiceSettings
from providers.errors import (
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    InvalidOutputError,
    TransientError,
)
from providers.media.streams import audio_duration
from providers.registry import resolve
from providers.settings import get_settings
from providers.tts.elevenlabs import words_from_alignment
from providers.tts.openai import estimate_words
from tests.fakes.elevenlabs_server import FakeElevenLabs
from tests.fakes.openai_server import FakeOpenAI

TEXT = "Bees dance to tell their sisters where the flowers are."
VOICE = VoiceSettings(language="en", words_per_minute=150)


# --- ElevenLabs ------------------------------------------------------------------------------------------

def test_elevenlabs_speaks_with_word_timings_from_the_alignment(elevenlabs_server: FakeElevenLabs,
                                                                 tmp_path: Path) -> None:
    speech = resolve("tts", "elevenlabs:voice123").synthesize(TEXT, tmp_path / "a.mp3", VOICE)
    assert speech.audio_path.read_bytes()[:3] in (b"ID3", b"\xff\xfb", b"\xff\xf3")
    assert speech.duration == pytest.approx(audio_duration(speech.audio_path))
    assert [w.word for w in speech.words] == TEXT.split()
    assert not speech.timings_estimated and speech.characters == len(TEXT)
    starts = [w.start for w in speech.words]
    assert starts == sorted(starts) and speech.words[-1].end <= speech.duration + 0.05
    [sent] = elevenlabs_server.requests
    assert sent.path == "/v1/text-to-speech/voice123/with-timestamps"
    assert sent.headers["xi-api-key"] == "test-key"
    assert sent.body["model_id"] == "eleven_multilingual_v2" and sent.body["voice_settings"]["speed"] == 1.0
    assert "language_code" not in sent.body  # multilingual v2 does not take one
    assert sent.query["output_format"] == ["mp3_44100_128"]


def test_elevenlabs_model_spec_and_run_voice(elevenlabs_server: FakeElevenLabs, tmp_path: Path) -> None:
    settings = VoiceSettings(voice="runvoice", language="de-DE", words_per_minute=300)
    resolve("tts", "elevenlabs:eleven_flash_v2_5").synthesize(TEXT, tmp_path / "a.mp3", settings)
    [sent] = elevenlabs_server.requests
    assert sent.path == "/v1/text-to-speech/runvoice/with-timestamps"
    assert sent.body["model_id"] == "eleven_flash_v2_5" and sent.body["language_code"] == "de"
    assert sent.body["voice_settings"]["speed"] == 1.2  # clamped to what ElevenLabs accepts


def test_elevenlabs_missing_key_names_the_variable(vendor_env: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match="ELEVENLABS_API_KEY"):
        resolve("tts", "elevenlabs:voice123")


def test_elevenlabs_wrong_key(elevenlabs_server: FakeElevenLabs, vendor_env: pytest.MonkeyPatch,
                              tmp_path: Path) -> None:
    vendor_env.setenv("ELEVENLABS_API_KEY", "xi-secret-wrong-key-0000")
    get_settings.cache_clear()
    with pytest.raises(AuthenticationError, match="ELEVENLABS_API_KEY") as info:
        resolve("tts", "elevenlabs:voice123").synthesize(TEXT, tmp_path / "a.mp3", VOICE)
    assert "xi-secret" not in str(info.value)
    assert not (tmp_path / "a.mp3").exists()


@pytest.mark.parametrize(("mode", "error", "match"), [
    ("429", TransientError, "429"),
    ("500", TransientError, "500"),
    ("malformed", InvalidOutputError, "unusable"),
])
def test_elevenlabs_failures(elevenlabs_server: FakeElevenLabs, tmp_path: Path, mode: str,
                             error: type[Exception], match: str) -> None:
    elevenlabs_server.mode = mode
    with pytest.raises(error, match=match) as info:
        resolve("tts", "elevenlabs:voice123").synthesize(TEXT, tmp_path / "a.mp3", VOICE)
    if mode == "429":
        assert info.value.retry_after == 7  # type: ignore[attr-defined]
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_elevenlabs_unknown_voice_is_a_bad_request(elevenlabs_server: FakeElevenLabs, tmp_path: Path) -> None:
    with pytest.raises(BadRequestError, match="404"):
        resolve("tts", "elevenlabs:missing-voice").synthesize(TEXT, tmp_path / "a.mp3", VOICE)


def test_elevenlabs_slow_answer_is_transient(elevenlabs_server: FakeElevenLabs,
                                             vendor_env: pytest.MonkeyPatch,
                                             tmp_path: Path) -> None:
    vendor_env.setenv("AURA_TTS_TIMEOUT", "0.3")
    get_settings.cache_clear()
    elevenlabs_server.mode, elevenlabs_server.slow_seconds = "slow", 1.5
    with pytest.raises(TransientError, match="timeout"):
        resolve("tts", "elevenlabs:voice123").synthesize(TEXT, tmp_path / "a.mp3", VOICE)


def test_words_from_alignment_handles_normalised_text() -> None:
    chars = list("It costs five dollars.")
    times = [i * 0.1 for i in range(len(chars))]
    words = words_from_alignment("It costs $5.", chars, times, [t + 0.1 for t in times])
    assert [w.word for w in words] == ["It", "costs", "$5."]
    assert all(a.start <= b.start for a, b in zip(words, words[1:], strict=False))


# --- OpenAI TTS ------------------------------------------------------------------------------------------

def test_openai_tts_estimates_word_timings(openai_server: FakeOpenAI, tmp_path: Path) -> None:
    voice = VoiceSettings(voice="nova", words_per_minute=175)
    speech = resolve("tts", "openai:gpt-4o-mini-tts").synthesize(TEXT, tmp_path / "a.mp3", voice)
    assert speech.timings_estimated and [w.word for w in speech.words] == TEXT.split()
    assert speech.duration == pytest.approx(audio_duration(speech.audio_path))
    assert speech.words[-1].end <= speech.duration
    [sent] = openai_server.requests
    assert sent.path == "/v1/audio/speech"
    assert sent.body["voice"] == "nova" and sent.body["response_format"] == "mp3"
    assert "175 words per minute" in sent.body["instructions"]


def test_openai_tts1_uses_speed_and_the_default_voice(openai_server: FakeOpenAI, tmp_path: Path) -> None:
    resolve("tts", "openai:tts-1").synthesize(TEXT, tmp_path / "a.mp3", VoiceSettings(words_per_minute=300))
    body = openai_server.requests[-1].body
    assert body["speed"] == 2.0 and body["voice"] == "alloy" and "instructions" not in body


@pytest.mark.parametrize(("mode", "error"), [
    ("401", AuthenticationError), ("429", TransientError), ("500", TransientError),
    ("malformed", InvalidOutputError),
])
def test_openai_tts_failures(openai_server: FakeOpenAI, tmp_path: Path, mode: str,
                             error: type[Exception]) -> None:
    openai_server.mode = mode
    with pytest.raises(error):
        resolve("tts", "openai:tts-1").synthesize(TEXT, tmp_path / "a.mp3", VOICE)
    assert not list(tmp_path.iterdir())


def test_openai_tts_slow_answer_is_transient(openai_server: FakeOpenAI, vendor_env: pytest.MonkeyPatch,
                                             tmp_path: Path) -> None:
    vendor_env.setenv("AURA_TTS_TIMEOUT", "0.3")
    get_settings.cache_clear()
    openai_server.mode, openai_server.slow_seconds = "slow", 1.5
    with pytest.raises(TransientError):
        resolve("tts", "openai:tts-1").synthesize(TEXT, tmp_path / "a.mp3", VOICE)


def test_estimate_words_fills_the_duration_in_order() -> None:
    words = estimate_words("One, two three. Four!", 2.0)
    assert [w.word for w in words] == ["One,", "two", "three.", "Four!"]
    assert words[0].start > 0 and words[-1].end <= 2.0
    assert all(a.end <= b.start + 1e-9 for a, b in zip(words, words[1:], strict=False))
    assert estimate_words("", 1.0) == ()
