"""Kokoro-82M (int8, from the test extra's packages): real speech, word timings from the model's durations."""

from __future__ import annotations

from pathlib import Path

import pytest

from providers.base import VoiceSettings
from providers.errors import ConfigurationError
from providers.settings import get_settings
from tests.providers.voice_models import (
    KOKORO_VOICE,
    assert_every_word_timed_and_heard,
    engine_settings,
    gap_offsets,
    kokoro_folder,
    sentence_gaps,
)

TEXT = "Dr. Lee saw 150 bees. They danced — twice!"


@pytest.fixture(scope="module")
def kokoro_env(tmp_path_factory: pytest.TempPathFactory):
    """Settings pointing at the assembled model, one ONNX thread, a home for the patched copy."""
    root = tmp_path_factory.mktemp("kokoro")
    with engine_settings(root, "AURA_KOKORO_DIR", kokoro_folder(root)) as folder:
        yield folder


@pytest.fixture(scope="module")
def spoken(kokoro_env: Path, tmp_path_factory: pytest.TempPathFactory):
    from providers.tts.kokoro import KokoroVoice

    out = tmp_path_factory.mktemp("kokoro-out") / "a.wav"
    return KokoroVoice(model=KOKORO_VOICE).synthesize(TEXT, out, VoiceSettings())


def test_speaks_with_a_timing_for_every_word(spoken) -> None:
    assert_every_word_timed_and_heard(spoken, TEXT)
    # the timings cover the audio: the words and the gaps between them add up to its length
    covered = sum(w.end - w.start for w in spoken.words)
    gaps = sum(max(0.0, n.start - w.end) for w, n in zip(spoken.words, spoken.words[1:], strict=False))
    lead, tail = spoken.words[0].start, spoken.duration - spoken.words[-1].end
    assert covered + gaps + lead + tail == pytest.approx(spoken.duration, abs=1e-6)


def test_sentence_breaks_are_quiet_and_captions_land_within_100_ms(spoken) -> None:
    gaps = sentence_gaps(spoken.words)
    assert len(gaps) == 1 and gaps[0][1] - gaps[0][0] > 0.2
    offsets = gap_offsets(spoken.audio_path, gaps)
    assert max(offsets) <= 0.1, offsets


def test_speed_follows_the_speaking_rate_and_output_is_deterministic(kokoro_env: Path, tmp_path: Path) -> None:
    from providers.tts.kokoro import KokoroVoice

    voice = KokoroVoice(model=KOKORO_VOICE)
    slow = voice.synthesize("Warm hive.", tmp_path / "s.wav", VoiceSettings(words_per_minute=110))
    fast = voice.synthesize("Warm hive.", tmp_path / "f.wav", VoiceSettings(words_per_minute=220))
    again = voice.synthesize("Warm hive.", tmp_path / "f2.wav", VoiceSettings(words_per_minute=220))
    assert slow.duration > fast.duration * 1.4
    assert (tmp_path / "f.wav").read_bytes() == (tmp_path / "f2.wav").read_bytes()
    assert again.words == fast.words


def test_missing_model_names_the_files_the_folder_and_the_fetch_command(tmp_path: Path, monkeypatch) -> None:
    pytest.importorskip("kokoro_onnx")
    from providers.tts.kokoro import KokoroVoice

    monkeypatch.setenv("AURA_KOKORO_DIR", str(tmp_path / "empty"))
    get_settings.cache_clear()
    try:
        with pytest.raises(ConfigurationError) as caught:
            KokoroVoice(model="af_heart")
    finally:
        get_settings.cache_clear()
    message = str(caught.value)
    assert "\n" not in message
    assert "kokoro-v1.0.onnx" in message and "voices-v1.0.bin" in message and str(tmp_path / "empty") in message
    assert "curl" in message and "AURA_KOKORO_DIR" in message


def test_unknown_and_path_like_voices_are_refused(kokoro_env: Path) -> None:
    from providers.tts.kokoro import KokoroVoice

    for bad in ("af_nobody", "../voices", "jf_alpha/../x"):
        with pytest.raises(ConfigurationError, match="aura voices"):
            KokoroVoice(model=bad)
