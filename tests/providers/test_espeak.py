"""The local voice: real audio from espeak-ng with word timings that follow the speech."""

from __future__ import annotations

import wave
from pathlib import Path

import pytest

from providers.base import VoiceSettings
from providers.errors import BadRequestError, ConfigurationError
from providers.tts.espeak import EspeakVoice, align_words


def test_speaks_a_sentence_with_ordered_word_timings(tmp_path: Path) -> None:
    text = "Honeybees dance to share 150 directions with their sisters."
    speech = EspeakVoice().synthesize(text, tmp_path / "a.wav", VoiceSettings())
    with wave.open(str(speech.audio_path)) as audio:
        seconds = audio.getnframes() / audio.getframerate()
    assert seconds == pytest.approx(speech.duration, abs=1e-3)
    assert 2.0 < speech.duration < 8.0
    assert [w.word for w in speech.words] == text.split()
    starts = [w.start for w in speech.words]
    assert starts == sorted(starts) and starts[0] < 0.3
    assert all(w.end <= speech.duration for w in speech.words)


def test_rate_changes_duration(tmp_path: Path) -> None:
    text = "The waggle dance points to the food source and says how far it is."
    slow = EspeakVoice().synthesize(text, tmp_path / "s.wav", VoiceSettings(words_per_minute=110))
    fast = EspeakVoice().synthesize(text, tmp_path / "f.wav", VoiceSettings(words_per_minute=220))
    assert slow.duration > fast.duration * 1.4


def test_unknown_voice_and_empty_text_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="no voice 'xx-nope'.*aura voices"):
        EspeakVoice().synthesize("hello", tmp_path / "x.wav", VoiceSettings(voice="xx-nope"))
    with pytest.raises(ConfigurationError, match="aura voices"):
        EspeakVoice(model="../lang")
    with pytest.raises(BadRequestError, match="empty"):
        EspeakVoice().synthesize("   ", tmp_path / "y.wav", VoiceSettings())
    assert not list(tmp_path.iterdir())


def test_align_words_handles_numbers_and_missing_events() -> None:
    # '150' gives two events inside one token; 'to' has none
    words = align_words("go to 150 bees", 2.0, [(0, 0.0), (6, 0.5), (7, 0.7), (10, 1.2)])
    assert [(w.word, w.start) for w in words] == [("go", 0.0), ("to", 0.5), ("150", 0.5), ("bees", 1.2)]
    assert words[-1].end == 2.0


def test_voices_are_named_from_espeaks_list(tmp_path: Path) -> None:
    from providers.tts.espeak import espeak_voices, voice_name

    assert voice_name("EN-US") == "en-us" and voice_name("en+f3") == "en+f3"
    assert any("en-us" in v.languages for v in espeak_voices())
    speech = EspeakVoice(model="de").synthesize("Guten Tag", tmp_path / "de.wav", VoiceSettings())
    assert [w.word for w in speech.words] == ["Guten", "Tag"]


def test_sentence_ends_are_gaps_that_are_quiet(tmp_path: Path) -> None:
    from tests.providers.voice_models import gap_offsets, sentence_gaps

    text = "Bees dance at dawn. Dr. Lee counts 1,250 of them. The hive sleeps."
    speech = EspeakVoice().synthesize(text, tmp_path / "g.wav", VoiceSettings())
    gaps = sentence_gaps(speech.words)
    assert len(gaps) == 2 and all(b - a > 0.15 for a, b in gaps)
    assert max(gap_offsets(speech.audio_path, gaps)) <= 0.1
