"""Captions from word timings: short phrases, clipped per segment, and written as SRT/VTT."""

from __future__ import annotations

import math
from collections.abc import Sequence

from tasks.schemas import CaptionCue, WordTiming

__all__ = ["clip_cues", "cues_in_window", "join_words", "phrase_cues", "shift_cues", "to_srt", "to_vtt"]

_BREAK_AFTER = (".", "!", "?", ";", ":", ",", "—", "。", "！", "？", "،", "؟")


def _clauses(words: Sequence[WordTiming]) -> list[list[WordTiming]]:
    clauses: list[list[WordTiming]] = [[]]
    for word in words:
        clauses[-1].append(word)
        if word.word.endswith(_BREAK_AFTER):
            clauses.append([])
    return [c for c in clauses if c]


def _wide(ch: str) -> bool:
    c = ord(ch)
    return 0x2E80 <= c <= 0x9FFF or 0xAC00 <= c <= 0xD7AF or 0xF900 <= c <= 0xFAFF or 0xFF00 <= c <= 0xFFEF


def join_words(words: Sequence[str]) -> str:
    """Words joined into caption text: with spaces, except between characters of CJK text."""
    out = ""
    for word in words:
        gap = "" if out and word and _wide(out[-1]) and _wide(word[0]) else " "
        out = f"{out}{gap}{word}" if out else word
    return out


def _width(text: str) -> int:
    """Text length in Latin-character widths (a CJK character is about two)."""
    return sum(2 if _wide(ch) else 1 for ch in text)


def _balanced(clause: list[WordTiming], max_words: int, max_chars: int, max_seconds: float) -> list[list[WordTiming]]:
    """Split a clause into the fewest near-equal chunks within the limits (no one-word orphans)."""
    chars = _width(join_words([w.word for w in clause]))
    seconds = clause[-1].end - clause[0].start
    parts = max(math.ceil(len(clause) / max_words), math.ceil(chars / max_chars), math.ceil(seconds / max_seconds), 1)
    parts = min(parts, len(clause))
    size = len(clause) / parts
    return [clause[round(i * size):round((i + 1) * size)] for i in range(parts)]


def phrase_cues(words: Sequence[WordTiming], offset: float = 0.0, max_words: int = 7,
                max_chars: int = 42, max_seconds: float = 3.5) -> list[CaptionCue]:
    """Group timed words into short phrases: clauses at punctuation, long clauses split evenly.

    Each cue is shown from its first word's start until the next cue starts (or its last word ends),
    so captions never flicker off between words of the same sentence.
    """
    groups: list[list[WordTiming]] = []
    pending: list[WordTiming] = []
    clauses = _clauses(words)
    for i, clause in enumerate(clauses):
        # a very short clause ("Yes,") joins the next one rather than flashing by alone
        if len(clause) <= 2 and not pending and i < len(clauses) - 1:
            pending = clause
            continue
        groups += _balanced(pending + clause, max_words, max_chars, max_seconds)
        pending = []
    if pending:
        groups.append(pending)
    cues: list[CaptionCue] = []
    for i, group in enumerate(groups):
        start = group[0].start
        end = groups[i + 1][0].start if i + 1 < len(groups) else group[-1].end
        end = max(end, start + 0.05)
        shifted = tuple(WordTiming(word=w.word, start=w.start + offset, end=w.end + offset) for w in group)
        cues.append(CaptionCue(start=start + offset, end=end + offset, text=join_words([w.word for w in group]),
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


def clip_cues(cues: Sequence[CaptionCue], length: float) -> tuple[CaptionCue, ...]:
    """Cues cut to [0, length) (a scene's own clock); cues left shorter than 20 ms are dropped."""
    return cues_in_window(cues, 0.0, length)


def shift_cues(cues: Sequence[CaptionCue], offset: float) -> list[CaptionCue]:
    """Cues moved `offset` seconds later, words included."""
    return [
        CaptionCue(start=c.start + offset, end=c.end + offset, text=c.text, words=tuple(
            WordTiming(word=w.word, start=w.start + offset, end=w.end + offset) for w in c.words))
        for c in cues
    ]


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


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_vtt(cues: Sequence[CaptionCue], word_times: bool = False) -> str:
    """WebVTT text for `cues`; with `word_times`, each word after the first carries its start (karaoke)."""
    blocks = []
    for c in cues:
        text = _vtt_escape(c.text)
        if word_times and len(c.words) > 1:
            timed = [f"<{_stamp(max(w.start, c.start), '.')}>{_vtt_escape(w.word)}" for w in c.words[1:]]
            text = " ".join([_vtt_escape(c.words[0].word), *timed])
        blocks.append(f"{_stamp(c.start, '.')} --> {_stamp(c.end, '.')}\n{text}\n")
    return "WEBVTT\n\n" + "\n".join(blocks)
