"""Local voice: espeak-ng in-process through ctypes, with per-word timings from its WORD events.

libespeak-ng (shipped by the `espeakng-loader` wheel) is one global engine per process with one
callback and one current voice, so a single engine is kept and every call holds its lock.
"""

from __future__ import annotations

import ctypes
import re
import threading
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import espeakng_loader
import numpy as np

from providers.base import Speech, VoiceSettings, WordTiming
from providers.errors import BadRequestError, ConfigurationError, MediaError
from providers.media.files import atomic_path
from providers.tts.words import settle_sentence_ends

__all__ = ["EspeakVoice", "EspeakVoiceEntry", "align_words", "espeak_voices", "voice_name"]

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_EV_LIST_TERMINATED, _EV_WORD = 0, 1
_RATE, _PITCH = 1, 3


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),  # 1-based character index into the input
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),  # milliseconds from the start of this call's audio
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", ctypes.c_char * 8),
    ]


class _Voice(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("languages", ctypes.c_void_p),  # (priority byte, language, NUL)..., then a 0 byte
        ("identifier", ctypes.c_char_p),  # file under espeak-ng-data/voices or lang
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    ]


@dataclass(frozen=True)
class EspeakVoiceEntry:
    """One voice in libespeak-ng's own list."""

    name: str
    languages: tuple[str, ...]
    path: Path


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


class _Engine:
    """The process's one espeak-ng engine."""

    def __init__(self) -> None:
        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetSynthCallback.argtypes = [_CALLBACK]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_ListVoices.argtypes = [ctypes.c_void_p]
        lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_Voice))
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
            ctypes.c_uint, ctypes.c_uint, ctypes.POINTER(ctypes.c_uint), ctypes.c_void_p,
        ]
        data_path = espeakng_loader.get_data_path().encode()
        self.sample_rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path, _INITIALIZE_DONT_EXIT)
        if self.sample_rate <= 0:
            raise MediaError("espeak-ng failed to initialise")
        self._callback = _CALLBACK(self._on_audio)  # keep a reference: a collected callback crashes
        lib.espeak_SetSynthCallback(self._callback)
        self.lib = lib
        self.lock = threading.Lock()
        self._chunks: list[bytes] = []
        self._events: list[tuple[int, int]] = []
        self.data_path = Path(data_path.decode())
        self.voices = self._list(None)
        self.variants = self._list(b"variant")
        # what a voice may be called: its languages and its name, case-insensitively; never a path
        self.names: dict[str, str] = {}
        for voice in self.voices:
            for language in voice.languages:  # a language code selects espeak's best voice for it
                self.names[language.lower()] = language
        for voice in self.voices:
            if voice.languages:
                self.names.setdefault(voice.name.lower(), voice.languages[0])
        self.variant_names = {v.path.name.lower(): v.path.name for v in self.variants}

    def _list(self, language: bytes | None) -> tuple[EspeakVoiceEntry, ...]:
        spec = None
        if language is not None:
            wanted = _Voice()
            wanted.languages = ctypes.cast(ctypes.c_char_p(language), ctypes.c_void_p).value
            spec = ctypes.byref(wanted)
        listed = self.lib.espeak_ListVoices(spec) if spec is not None else self.lib.espeak_ListVoices(None)
        out: list[EspeakVoiceEntry] = []
        i = 0
        while listed[i]:
            voice = listed[i].contents
            identifier = (voice.identifier or b"").decode("utf-8", "replace")
            # language voices live in lang/, variants ("!v/...") in voices/
            folder = "voices" if identifier.startswith("!v") else "lang"
            out.append(EspeakVoiceEntry(
                name=(voice.name or b"").decode("utf-8", "replace"),
                languages=_languages(voice.languages),
                path=self.data_path / folder / identifier,
            ))
            i += 1
        return tuple(out)

    def _on_audio(self, wav: Any, samples: int, events: Any) -> int:
        if samples > 0:
            self._chunks.append(ctypes.string_at(wav, samples * 2))
        i = 0
        while events[i].type != _EV_LIST_TERMINATED:
            if events[i].type == _EV_WORD:
                self._events.append((events[i].text_position - 1, events[i].audio_position))
            i += 1
        return 0

    def speak(self, text: str, voice: str, rate: int) -> tuple[bytes, list[tuple[int, int]]]:
        """PCM s16le mono audio and (character index, milliseconds) word events for `text`."""
        with self.lock:
            # `voice` passed voice_name(): a name from espeak's own list, never a path
            if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise BadRequestError(f"espeak-ng could not load its voice {voice!r}")
            self.lib.espeak_SetParameter(_RATE, rate, 0)
            self.lib.espeak_SetParameter(_PITCH, 50, 0)
            self._chunks, self._events = [], []
            data = text.encode("utf-8") + b"\0"
            rc = self.lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
            if rc != 0:
                raise MediaError(f"espeak-ng synthesis failed with code {rc}")
            return b"".join(self._chunks), list(self._events)


def _languages(address: int | None) -> tuple[str, ...]:
    """Decode espeak's packed language list: (priority byte, name, NUL) repeated, ended by a 0 byte."""
    out: list[str] = []
    i = 0
    while address and ctypes.c_ubyte.from_address(address + i).value:
        name = ctypes.string_at(address + i + 1)
        out.append(name.decode("utf-8", "replace"))
        i += len(name) + 2
    return tuple(out)


_engine: _Engine | None = None
_engine_lock = threading.Lock()


def _get_engine() -> _Engine:
    global _engine
    with _engine_lock:
        if _engine is None:
            _engine = _Engine()
        return _engine


def espeak_voices() -> tuple[EspeakVoiceEntry, ...]:
    """The voices libespeak-ng can speak, from its own list."""
    return _get_engine().voices


def voice_name(name: str) -> str:
    """The espeak language code for a voice `name` from its list (`en`, `en-us`, `German`, `en+f3`).

    Anything else, in particular anything path-like ('.', '..', 'gmw/en'), is refused here, before
    it can reach libespeak-ng, which crashes on some paths.
    """
    engine = _get_engine()
    base, plus, variant = name.strip().partition("+")
    code = engine.names.get(base.lower())
    if code is None or (plus and variant.lower() not in engine.variant_names):
        raise ConfigurationError(
            f"espeak-ng has no voice {name!r}: use a language such as en, en-us, de, fr, es "
            "(list them with `aura voices`)"
        )
    return f"{code}+{engine.variant_names[variant.lower()]}" if plus else code


def align_words(text: str, total: float, events: list[tuple[int, float]]) -> tuple[WordTiming, ...]:
    """Map (character index, seconds) word events onto the whitespace-separated words of `text`.

    A number may give two events inside one token and a hyphenated word one: each token starts
    at its first event and ends where the next token starts.
    """
    tokens = [(m.start(), m.end(), m.group()) for m in re.finditer(r"\S+", text)]
    starts: list[float | None] = []
    for a, b, _ in tokens:
        inside = [sec for char, sec in events if a <= char < b]
        starts.append(min(inside) if inside else None)
    words: list[WordTiming] = []
    for i, (_, _, token) in enumerate(tokens):
        known = starts[i]
        start = known if known is not None else (words[-1].end if words else 0.0)
        following: float = next((s for s in starts[i + 1:] if s is not None), total)
        start = min(start, total)
        words.append(WordTiming(word=token, start=start, end=max(start, min(following, total))))
    return tuple(words)


class EspeakVoice:
    """TTS provider `local` / `espeak[:VOICE]`."""

    def __init__(self, model: str = "", **_: Any) -> None:
        self.voice = voice_name(model) if model else None

    def synthesize(self, text: str, out_path: Path, settings: VoiceSettings) -> Speech:
        """Speak `text` into a 16-bit mono WAV at `out_path`."""
        if not text.strip():
            raise BadRequestError("nothing to say: the narration text is empty")
        voice = voice_name(settings.voice or self.voice or settings.language or "en")
        engine = _get_engine()
        # espeak speaks a little faster than its nominal rate; 0.94 brings it to the asked pace
        pcm, events = engine.speak(text, voice, max(80, int(settings.words_per_minute / 0.94)))
        if not pcm:
            raise MediaError(f"espeak-ng produced no audio for {text[:40]!r}")
        # a short tail of silence so that the last word is not clipped by the crossfade
        pcm += b"\0\0" * int(engine.sample_rate * 0.25)
        total = len(pcm) / 2 / engine.sample_rate
        with atomic_path(out_path) as tmp, wave.open(str(tmp), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(engine.sample_rate)
            out.writeframes(pcm)
        timed = [(char, ms / 1000) for char, ms in events]
        samples = np.frombuffer(pcm, "<i2").astype(np.float32) / 32768
        words = settle_sentence_ends(align_words(text, total, timed), samples, engine.sample_rate)
        return Speech(audio_path=out_path, duration=total, words=words, characters=len(text))
