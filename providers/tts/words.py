"""From a neural voice's per-phoneme timings back to the narration's words.

Kokoro and Piper both speak espeak-ng phonemes, in which words are separated by spaces. A number
or an abbreviation may become several phoneme words ("150" -> "wˈʌnhˈʌndɹɪd fˈɪfti") and a dash
none, so each text word is phonemized on its own to learn how many phoneme words it makes; when
those counts add up to the sentence's phonemes the sentence is spoken as phonemized as a whole
(natural stress on function words), otherwise it is spoken from the per-word phonemes, which map
back by construction.
"""

from __future__ import annotations

import re
import wave
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from providers.base import WordTiming
from providers.media.files import atomic_path

__all__ = [
    "PUNCTUATION",
    "Utterance",
    "group_symbols",
    "plan_phonemes",
    "settle_sentence_ends",
    "speak_all",
    "split_utterances",
    "word_timings",
    "write_wav",
]

# marks and stress signs: they carry no sound of their own, so a chunk of only these is not a word
PUNCTUATION = frozenset(";:,.!?¡¿—–-…\"'()«»“”‘’ˈˌ")
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’)\]]*$")
_ABBREVIATIONS = frozenset({"mr.", "mrs.", "ms.", "dr.", "st.", "vs.", "etc.", "e.g.", "i.e.", "prof.", "no."})


@dataclass(frozen=True)
class Utterance:
    """A run of the narration's words spoken in one model call: a sentence or part of a long one."""

    first: int  # index of its first word in the narration
    words: tuple[str, ...]


def split_utterances(text: str, max_chars: int = 240) -> list[Utterance]:
    """The narration's whitespace-separated words, grouped into sentences of at most `max_chars`."""
    words = text.split()
    out: list[Utterance] = []
    current: list[str] = []
    start = 0
    for i, word in enumerate(words):
        if current and sum(len(w) + 1 for w in current) + len(word) > max_chars:
            # a sentence too long for one call: break it at the last comma, else here
            cut = max((k + 1 for k, w in enumerate(current[:-1]) if w.endswith((",", ";", ":"))), default=len(current))
            out.append(Utterance(start, tuple(current[:cut])))
            start, current = start + cut, current[cut:]
        current.append(word)
        if _SENTENCE_END.search(word) and word.lower() not in _ABBREVIATIONS:
            out.append(Utterance(start, tuple(current)))
            start, current = i + 1, []
    if current:
        out.append(Utterance(start, tuple(current)))
    return out


def _is_word(chunk: Sequence[str]) -> bool:
    return any(s not in PUNCTUATION and not s.isspace() for s in chunk)


def group_symbols(symbols: Sequence[str]) -> tuple[list[int], int]:
    """For each phoneme symbol, the index of the phoneme word it belongs to (-1 for spaces), and the count.

    A chunk of only punctuation (a dash spoken as a pause) joins the word before it.
    """
    groups: list[int] = []
    count = 0
    chunk: list[int] = []

    def close() -> None:
        nonlocal count
        if not chunk:
            return
        word = _is_word([symbols[i] for i in chunk])
        index = count if word or count == 0 else count - 1
        for i in chunk:
            groups[i] = index
        if word or count == 0:
            count += 1
        chunk.clear()

    for i, symbol in enumerate(symbols):
        groups.append(-1)
        if symbol.isspace():
            close()
        else:
            chunk.append(i)
    close()
    return groups, count


def word_count(phonemes: Sequence[str]) -> int:
    """How many phoneme words a phonemized text word makes (0 for a dash or a bare mark)."""
    count = 0
    chunk: list[str] = []
    for symbol in [*phonemes, " "]:
        if symbol.isspace():
            count += _is_word(chunk)
            chunk = []
        else:
            chunk.append(symbol)
    return count


def plan_phonemes(
    words: Sequence[str], whole: Sequence[str], per_word: Sequence[Sequence[str]]
) -> tuple[list[str], list[int]]:
    """The phoneme symbols to speak for `words` and, for each symbol, the text word it belongs to (-1: none).

    `whole` is the utterance phonemized at once, `per_word` each word phonemized alone.
    """
    counts = [word_count(p) for p in per_word]
    groups, found = group_symbols(whole)
    if found == sum(counts) and found > 0:
        owner_of_group: list[int] = []
        for index, n in enumerate(counts):
            owner_of_group += [index] * n
        return list(whole), [owner_of_group[g] if g >= 0 else -1 for g in groups]
    # the sentence's phonemes do not split into the words' own: speak the words' phonemes
    symbols: list[str] = []
    owners: list[int] = []
    for index, phonemes in enumerate(per_word):
        piece = list(phonemes)
        while piece and piece[0].isspace():
            piece.pop(0)
        while piece and piece[-1].isspace():
            piece.pop()
        if not piece:
            continue
        if symbols:
            symbols.append(" ")
            owners.append(-1)
        symbols += piece
        owners += [index] * len(piece)
    return symbols, owners


def word_timings(
    words: Sequence[str],
    symbols: Sequence[str],
    owners: Sequence[int],
    spans: Sequence[tuple[float, float]],
    offset: float,
) -> list[WordTiming]:
    """Word start and end times from per-symbol (start, end) seconds, shifted by `offset`.

    A word runs from its first sounding phoneme to the start of the next word (the space between
    two words belongs to the first); the utterance's last word ends with its last sounding phoneme,
    so the pause after a sentence is a gap between words. A word with no phonemes of its own (a
    dash) gets the instant where it stands.
    """
    first: dict[int, float] = {}
    last: dict[int, float] = {}
    for symbol, owner, (start, end) in zip(symbols, owners, spans, strict=True):
        if owner < 0 or symbol in PUNCTUATION:
            continue
        first.setdefault(owner, start)
        last[owner] = end
    out: list[WordTiming] = []
    previous_end = spans[0][0] if spans else 0.0
    for index, word in enumerate(words):
        start = max(first[index], previous_end) if index in first else previous_end
        following = next((first[k] for k in range(index + 1, len(words)) if k in first), None)
        end = following if following is not None else last.get(index, start)
        end = max(end, start)
        out.append(WordTiming(word=word, start=offset + start, end=offset + end))
        previous_end = end
    return out


def estimated_timings(words: Sequence[str], start: float, end: float) -> list[WordTiming]:
    """Word times spread over [start, end] by character count: only for when a model gave no alignment."""
    weights = [max(1, len(w)) for w in words]
    total = sum(weights)
    out: list[WordTiming] = []
    t = start
    for word, weight in zip(words, weights, strict=True):
        step = (end - start) * weight / total
        out.append(WordTiming(word=word, start=t, end=t + step))
        t += step
    return out


_QUIET = 10 ** (-30 / 20)  # a 10 ms frame this far below the utterance's speech level is no longer the word


def _frames(audio: np.ndarray, sample_rate: int) -> tuple[np.ndarray, float, float]:
    """RMS per ~10 ms frame, the level a frame must reach to be part of a word, and the frame's seconds."""
    frame = max(1, sample_rate // 100)
    usable = len(audio) // frame * frame
    loudness = np.sqrt((audio[:usable].astype(np.float64).reshape(-1, frame) ** 2).mean(1))
    return loudness, (float(np.percentile(loudness, 90)) * _QUIET if usable else 0.0), frame / sample_rate


def _start_at_sound(word: WordTiming, audio: np.ndarray, sample_rate: int) -> WordTiming:
    """The utterance's first word starting where its sound does (the model's leading pad is not exact)."""
    loudness, level, step = _frames(audio, sample_rate)
    loud = np.flatnonzero(loudness > level)
    if not len(loud) or loud[0] * step >= word.end:
        return word
    return WordTiming(word=word.word, start=float(loud[0] * step), end=word.end)


def _end_at_sound(word: WordTiming, audio: np.ndarray, sample_rate: int) -> WordTiming:
    """The utterance's last word ending where its sound does.

    Both models give the phoneme before the final mark the trailing silence as duration (Kokoro
    half a second), so the last word would otherwise run into the pause after the sentence.
    """
    loudness, level, step = _frames(audio, sample_rate)
    first, last = int(word.start / step), int(np.ceil(word.end / step))
    loud = np.flatnonzero(loudness[first:last] > level)
    if not len(loud):
        return word
    end = min(word.end, (first + int(loud[-1]) + 1) * step)
    return WordTiming(word=word.word, start=word.start, end=max(word.start, end))


def settle_sentence_ends(words: Sequence[WordTiming], audio: np.ndarray, sample_rate: int) -> tuple[WordTiming, ...]:
    """Each sentence's last word ending where its sound does, so the pause after it is a gap.

    For engines whose word events only say where each word starts (espeak-ng): a word then
    ends where the next starts, and a sentence's last word would run through the pause.
    """
    out = list(words)
    for utterance in split_utterances(" ".join(w.word for w in words)):
        last = utterance.first + len(utterance.words) - 1
        if 0 <= last < len(out):
            out[last] = _end_at_sound(out[last], audio, sample_rate)
    return tuple(out)


def fade_edges(audio: np.ndarray, sample_rate: int, seconds: float = 0.005) -> np.ndarray:
    """The audio with a few milliseconds of fade at both ends, so joined pieces do not click."""
    n = min(len(audio) // 2, int(sample_rate * seconds))
    if n <= 0:
        return audio
    out = audio.astype(np.float32, copy=True)
    ramp = np.linspace(0.0, 1.0, n, dtype=np.float32)
    out[:n] *= ramp
    out[-n:] *= ramp[::-1]
    return out


def write_wav(path: Path, audio: np.ndarray, sample_rate: int) -> None:
    """Write float audio in [-1, 1] as a 16-bit mono WAV, atomically."""
    pcm = (np.clip(audio, -1.0, 1.0) * 32767).astype("<i2")
    with atomic_path(path) as tmp, wave.open(str(tmp), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(pcm.tobytes())


# speaks one utterance: its float audio, its words' timings from the audio's start, and whether
# those timings are estimated
Speak = Callable[[Utterance], tuple[np.ndarray, list[WordTiming], bool]]


def speak_all(
    text: str, speak: Speak, sample_rate: int, max_chars: int = 240
) -> tuple[np.ndarray, list[WordTiming], bool]:
    """Speak `text` utterance by utterance and join the pieces (faded, so without clicks) into one track."""
    pieces: list[np.ndarray] = []
    words: list[WordTiming] = []
    estimated = False
    offset = 0
    for utterance in split_utterances(text, max_chars):
        audio, timed, guessed = speak(utterance)
        if timed and not guessed:
            timed[0] = _start_at_sound(timed[0], audio, sample_rate)
            timed[-1] = _end_at_sound(timed[-1], audio, sample_rate)
        pieces.append(fade_edges(audio, sample_rate))
        seconds = offset / sample_rate
        words += [WordTiming(word=w.word, start=w.start + seconds, end=w.end + seconds) for w in timed]
        estimated = estimated or guessed
        offset += len(audio)
    return np.concatenate(pieces) if pieces else np.zeros(0, np.float32), words, estimated
