"""Piper (en_US-joe-medium, from the test extra): real speech, word timings from the model's alignments."""

from __future__ import annotations

from pathlib import Path

import pytest

from providers.base import VoiceSettings
from providers.errors import ConfigurationError
from providers.settings import get_settings
from tests.providers.voice_models import (
    PIPER_VOICE,
    assert_every_word_timed_and_heard,
    engine_settings,
    gap_offsets,
    piper_folder,
    sentence_gaps,
)

TEXT = "Dr. Lee counted 1,250 bees in 2024. The hive — warm and loud — hummed. Then, at 9 p.m., it slept!"


@pytest.fixture(scope="module")
def piper_env(tmp_path_factory: pytest.TempPathFactory):
    """Settings pointing at the voice's folder, one ONNX thread."""
    root = tmp_path_factory.mktemp("piper")
    with engine_settings(root, "AURA_PIPER_VOICES", piper_folder(root)) as folder:
        yield folder


@pytest.fixture(scope="module")
def spoken(piper_env: Path, tmp_path_factory: pytest.TempPathFactory):
    from providers.tts.piper import PiperVoice

    out = tmp_path_factory.mktemp("piper-out") / "a.wav"
    return PiperVoice(model=PIPER_VOICE).synthesize(TEXT, out, VoiceSettings())


def test_speaks_with_a_timing_for_every_word(spoken) -> None:
    assert_every_word_timed_and_heard(spoken, TEXT)
    # '1,250' and '2024' are several spoken words each: one timing per written word, long enough to say them
    by_word = {w.word: w.end - w.start for w in spoken.words}
    assert by_word["1,250"] > 0.8 and by_word["2024."] > 0.6


def test_sentence_breaks_are_quiet_and_captions_land_within_100_ms(spoken) -> None:
    gaps = sentence_gaps(spoken.words)
    assert len(gaps) == 2 and all(b > a for a, b in gaps)
    offsets = gap_offsets(spoken.audio_path, gaps)
    assert max(offsets) <= 0.1, offsets


def test_speed_follows_the_speaking_rate_and_output_is_deterministic(piper_env: Path, tmp_path: Path) -> None:
    from providers.tts.piper import PiperVoice

    voice = PiperVoice(model=PIPER_VOICE)
    text = "The waggle dance points to the food."
    slow = voice.synthesize(text, tmp_path / "s.wav", VoiceSettings(words_per_minute=110))
    fast = voice.synthesize(text, tmp_path / "f.wav", VoiceSettings(words_per_minute=220))
    again = voice.synthesize(text, tmp_path / "f2.wav", VoiceSettings(words_per_minute=220))
    assert slow.duration > fast.duration * 1.4
    assert (tmp_path / "f.wav").read_bytes() == (tmp_path / "f2.wav").read_bytes()
    assert again.words == fast.words


def test_a_path_to_an_onnx_voice_works_from_the_command_line(piper_env: Path, tmp_path: Path) -> None:
    from providers.tts.piper import PiperVoice

    speech = PiperVoice(model=str(piper_env / f"{PIPER_VOICE}.onnx")).synthesize(
        "Bees.", tmp_path / "p.wav", VoiceSettings())
    assert [w.word for w in speech.words] == ["Bees."] and speech.duration > 0.2


def test_missing_voice_names_the_files_the_folder_and_the_fetch_command(tmp_path: Path, monkeypatch) -> None:
    pytest.importorskip("piper")
    from providers.tts.piper import PiperVoice

    monkeypatch.setenv("AURA_PIPER_VOICES", str(tmp_path / "none"))
    get_settings.cache_clear()
    try:
        with pytest.raises(ConfigurationError) as caught:
            PiperVoice(model="en_US-lessac-medium")
    finally:
        get_settings.cache_clear()
    message = str(caught.value)
    assert "\n" not in message
    assert "en_US-lessac-medium.onnx" in message and "en_US-lessac-medium.onnx.json" in message
    assert str(tmp_path / "none") in message and "python -m piper.download_voices en_US-lessac-medium" in message


def test_path_like_names_are_refused(piper_env: Path) -> None:
    from providers.tts.piper import PiperVoice

    for bad in ("../piper/en_US-joe-medium", "..", "/etc/passwd", "en_US-joe-medium/../x"):
        with pytest.raises(ConfigurationError, match="aura voices|not found"):
            PiperVoice(model=bad)
