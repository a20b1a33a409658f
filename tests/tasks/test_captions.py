"""Caption cues from word timings, and the .srt/.vtt files written beside the video."""

from __future__ import annotations

from tasks.captions import clip_cues, join_words, phrase_cues, shift_cues, to_srt, to_vtt
from tasks.schemas import WordTiming


def _words(text: str, step: float = 0.3) -> list[WordTiming]:
    return [WordTiming(word=w, start=i * step, end=i * step + step * 0.8) for i, w in enumerate(text.split())]


def test_phrases_break_at_punctuation_and_run_until_the_next_phrase() -> None:
    cues = phrase_cues(_words("Bees dance in the dark. They point at flowers with their bodies."))
    assert [c.text for c in cues] == ["Bees dance in the dark.", "They point at flowers with their bodies."]
    assert cues[0].end == cues[1].start  # no flicker between phrases
    assert cues[1].words[0].word == "They"


def test_cjk_words_join_without_spaces() -> None:
    assert join_words(["蜜蜂", "跳舞", "。"]) == "蜜蜂跳舞。"
    assert join_words(["Bees", "跳舞"]) == "Bees 跳舞"


def test_clip_and_shift_move_cues_between_clocks() -> None:
    cues = phrase_cues(_words("one two three four"))
    shifted = shift_cues(cues, 10.0)
    assert shifted[0].start == 10.0 and shifted[0].words[1].start == 10.3
    clipped = clip_cues(cues, 0.5)
    assert clipped[0].end == 0.5 and clipped[0].start == 0.0


def test_srt_and_vtt() -> None:
    cues = phrase_cues(_words("Tom & Jerry <3 bees. Second one here."))
    srt = to_srt(cues)
    assert srt.startswith("1\n00:00:00,000 --> ") and "Tom & Jerry <3 bees." in srt
    vtt = to_vtt(cues)
    assert vtt.startswith("WEBVTT\n\n00:00:00.000 --> ") and "Tom &amp; Jerry &lt;3 bees." in vtt
    karaoke = to_vtt(cues, word_times=True)
    assert "Tom <00:00:00.300>&amp; <00:00:00.600>Jerry" in karaoke
