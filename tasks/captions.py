"""Captions from word timings: short phrases, clipped per segment, and written as SRT/VTT."""

from __future__ import annotations

from collections.abc import Sequence

from tasks.schemas import CaptionCue, WordTiming

__all__ = ["cues_in_window", "phrase_cues", "to_srt", "to_vtt"]

_BREAK_AFTER = (".", "!", "?", ";", ":", ",", "—", "。", "！", "？", "،", "؟")


def phrase_cues(words: Sequence[WordTiming], offset: float = 0.0, max_words: int = 7,
                max_chars: int = 42, max_seconds: float = 3.5) -> list[CaptionCue]:
    """Group timed words into short phrases, breaking at punctuation and length limits.

    Each cue is shown from its first word's start until the next cue starts (or its last word ends),
    so captions never flicker off between words of the same sentence.
    """
    groups: list[list[WordTiming]] = []
    current: list[WordTiming] = []
    for word in words:
        text = " ".join(w.word for w in [*current, word])
        too_long = current and (
            len(current) >= max_words or len(text) > max_chars or word.end - current[0].start > max_seconds
        )
        if too_long:
            groups.append(current)
            current = []
        current.append(word)
        if word.word.endswith(_BREAK_AFTER) and len(current) >= 2:
            groups.append(current)
            current = []
    if current:
        groups.append(current)
    cues: list[CaptionCue] = []
    for i, group in enumerate(groups):
        start = group[0].start
        end = groups[i + 1][0].start if i + 1 < len(groups) else group[-1].end
        end = max(end, start + 0.05)
        shifted = tuple(WordTiming(word=w.word, start=w.start + offset, end=w.end + offset) for w in group)
        cues.append(CaptionCue(start=start + offset, end=end + offset, text=" ".join(w.word for w in group),
                               words=shifted))
    return cues


def cues_in_window(cues: Sequence[CaptionCue], start: float, end: float) -> tuple[CaptionCue, ...]:
    """Cues overlapping [start, end), clipped and moved onto the window's own clock."""
    out = []
    for cue in cues:
        a, b = max(cue.start, start), min(cue.end, end)
        if b - a < 0.02:
            continue
        words = tuple(
            WordTiming(word=w.word, start=max(0.0, w.start - start), end=max(0.0, min(w.end, end) - start))
            for w in cue.words
        )
        out.append(CaptionCue(start=a - start, end=b - start, text=cue.text, words=words))
    return tuple(out)


def _stamp(seconds: float, sep: str) -> str:
    ms = round(seconds * 1000)
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def to_srt(cues: Sequence[CaptionCue]) -> str:
    """SubRip text for `cues`."""
    blocks = [f"{i}\n{_stamp(c.start, ',')} --> {_stamp(c.end, ',')}\n{c.text}\n" for i, c in enumerate(cues, 1)]
    return "\n".join(blocks)


def to_vtt(cues: Sequence[CaptionCue]) -> str:
    """WebVTT text for `cues`."""
    blocks = [f"{_stamp(c.start, '.')} --> {_stamp(c.end, '.')}\n{c.text}\n" for c in cues]
    return "WEBVTT\n\n" + "\n".join(blocks)
