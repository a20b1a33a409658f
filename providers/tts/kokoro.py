"""Kokoro-82M through kokoro-onnx: a natural local voice, with word timings from the model's own durations.

The released ONNX exports compute each phoneme's length in frames (the duration predictor) but do
not output it; a one-time patch marks that tensor as a graph output named `duration`, which
kokoro-onnx turns into per-phoneme times (`create_timed`). The patched copy is kept under
<home>/cache/kokoro, keyed by the model file's size and date. The model is loaded once per
process and shared by every scene; calls are serialised by a lock (ONNX Runtime already uses
every core for one call).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

from providers.base import Speech, VoiceSettings, WordTiming
from providers.errors import BadRequestError, ConfigurationError, MediaError
from providers.media.files import atomic_path
from providers.settings import get_settings
from providers.tts.voices import KOKORO_DEFAULT_VOICE, check_voice, kokoro_dir, kokoro_files, kokoro_missing
from providers.tts.words import Utterance, estimated_timings, plan_phonemes, speak_all, word_timings, write_wav

__all__ = ["KokoroVoice", "NOMINAL_WPM", "timed_model"]

NOMINAL_WPM = 140  # Kokoro's pace at speed 1.0 (measured: 103 words in 36 s); the brief's pacing scales from it
_MAX_PHONEMES = 500  # the model takes 510 tokens at most
_DURATION_CHAIN = ("Sigmoid", "ReduceSum", "Div", "Round", "Clip", "Cast")


def _duration_tensor(model: Any) -> str:
    """The int64 per-token frame counts: the Cast at the end of Sigmoid→ReduceSum→Div(speed)→Round→Clip."""
    producer = {out: node for node in model.graph.node for out in node.output}
    for node in model.graph.node:
        if node.op_type != "Cast":
            continue
        chain, current = [node], node
        while len(chain) < len(_DURATION_CHAIN) and current.input and current.input[0] in producer:
            current = producer[current.input[0]]
            chain.append(current)
        if tuple(n.op_type for n in reversed(chain)) == _DURATION_CHAIN and "speed" in chain[3].input:
            return str(node.output[0])
    raise MediaError("this Kokoro model has no duration predictor output to expose; use a kokoro-onnx v1.0 export")


def timed_model(model: Path, cache: Path) -> Path:
    """A copy of `model` with its phoneme durations as an extra output `duration` (made once, then reused)."""
    import onnx

    stat = model.stat()
    patched = cache / f"{model.stem}.{stat.st_size}.{stat.st_mtime_ns}.timed.onnx"
    if patched.is_file():
        return patched
    graph = onnx.load(str(model))
    if "duration" in {o.name for o in graph.graph.output}:
        return model
    tensor = _duration_tensor(graph)
    graph.graph.node.append(onnx.helper.make_node("Identity", [tensor], ["duration"], name="aura_duration"))
    graph.graph.output.append(onnx.helper.make_tensor_value_info("duration", onnx.TensorProto.INT64, None))
    cache.mkdir(parents=True, exist_ok=True)
    with atomic_path(patched) as tmp:
        onnx.save(graph, str(tmp))
    return patched


class _Engine:
    """One loaded model, with kokoro-onnx wrappers per voices file."""

    def __init__(self, model: Path) -> None:
        import onnxruntime as ort
        from kokoro_onnx.session import resolve_providers

        options = ort.SessionOptions()
        threads = get_settings().tts_threads
        if threads:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        path = timed_model(model, get_settings().home.expanduser() / "cache" / "kokoro")
        self.session = ort.InferenceSession(str(path), sess_options=options, providers=resolve_providers())
        self.lock = threading.Lock()
        self._wrappers: dict[Path, Any] = {}

    def wrapper(self, voices: Path) -> Any:
        from kokoro_onnx import Kokoro

        if voices not in self._wrappers:
            self._wrappers[voices] = Kokoro.from_session(self.session, str(voices))
        return self._wrappers[voices]


_engines: dict[tuple[Path, int, int | None], _Engine] = {}
_engines_lock = threading.Lock()


def _engine(model: Path) -> _Engine:
    """The process's engine for `model`, loaded on first use."""
    key = (model, model.stat().st_mtime_ns, get_settings().tts_threads)
    with _engines_lock:
        if key not in _engines:
            _engines[key] = _Engine(model)
        return _engines[key]


def _phonemize_words(words: tuple[str, ...], language: str) -> list[str]:
    """Each word phonemized on its own, the way kokoro-onnx phonemizes a text."""
    import phonemizer
    from kokoro_onnx.tokenizer import _espeak_lock

    with _espeak_lock:  # espeak-ng state is global to the process: kokoro-onnx's own lock
        out = phonemizer.phonemize(list(words), language, preserve_punctuation=True, with_stress=True)
    return [str(p) for p in out] if isinstance(out, list) and len(out) == len(words) else []


def _espeak_language(language: str, voice: str) -> str:
    """The espeak language to phonemize the narration in (British voices speak British English)."""
    language = language.lower().replace("_", "-")
    if language == "en":
        return "en-gb" if voice.startswith("b") else "en-us"
    return {"fr": "fr-fr", "pt": "pt-br", "zh": "cmn"}.get(language, language)


class KokoroVoice:
    """TTS provider `kokoro[:VOICE]` (e.g. kokoro:af_heart), from the model files in AURA_KOKORO_DIR."""

    def __init__(self, model: str = "", **_: Any) -> None:
        self.voice = model or KOKORO_DEFAULT_VOICE
        check_voice(f"kokoro:{self.voice}")

    def _speak(self, kokoro: Any, engine: _Engine, style: Any, utterance: Utterance, language: str,
               speed: float) -> tuple[np.ndarray, list[WordTiming], bool]:
        """One utterance's audio and word timings (estimated only if the phonemes could not be mapped)."""
        words = utterance.words
        known = kokoro.tokenizer.known
        whole = " ".join(known(kokoro.tokenizer.phonemize(" ".join(words), language)).split())
        per_word = [known(p) for p in _phonemize_words(words, language)]
        if per_word:
            symbols, owners = plan_phonemes(words, list(whole), [list(p) for p in per_word])
        else:
            symbols, owners = list(whole), [-1] * len(whole)
        phonemes = "".join(symbols)
        if len(phonemes) > _MAX_PHONEMES and len(words) > 1:
            half = len(words) // 2
            first = self._speak(kokoro, engine, style, Utterance(utterance.first, words[:half]), language, speed)
            second = self._speak(kokoro, engine, style, Utterance(utterance.first + half, words[half:]), language,
                                 speed)
            shift = len(first[0]) / kokoro_sample_rate()
            moved = [WordTiming(word=w.word, start=w.start + shift, end=w.end + shift) for w in second[1]]
            return np.concatenate([first[0], second[0]]), first[1] + moved, first[2] or second[2]
        if not phonemes.strip(" "):
            silence = np.zeros(int(0.2 * kokoro_sample_rate()), np.float32)
            return silence, [WordTiming(word=w, start=0.0, end=0.0) for w in words], False
        with engine.lock:
            audio, rate, timings = kokoro.create_timed(
                phonemes, style, speed=speed, lang=language, is_phonemes=True, trim=False,
                sentence_pause=0.0, clause_pause=0.0)
        audio = np.asarray(audio, np.float32)
        seconds = len(audio) / rate
        if len(timings) != len(symbols) or not per_word:
            return audio, estimated_timings(words, 0.0, seconds), True
        spans = [(t.start, t.end) for t in timings]
        return audio, word_timings(words, symbols, owners, spans, 0.0), False

    def synthesize(self, text: str, out_path: Path, settings: VoiceSettings) -> Speech:
        """Speak `text` into a 24 kHz 16-bit mono WAV at `out_path`, with word timings from the model."""
        if not text.strip():
            raise BadRequestError("nothing to say: the narration text is empty")
        voice = settings.voice or self.voice
        found = kokoro_files()
        if found is None:
            raise kokoro_missing(kokoro_dir())
        model, voices = found
        if voice not in voices:
            installed = ", ".join(sorted(voices)[:12])
            raise ConfigurationError(
                f"Kokoro has no voice {voice!r}: installed: {installed} (list them with `aura voices`)")
        engine = _engine(model)
        kokoro = engine.wrapper(voices[voice])
        style = kokoro.get_voice_style(voice)
        language = _espeak_language(settings.language, voice)
        speed = min(2.0, max(0.5, settings.words_per_minute / NOMINAL_WPM))
        rate = kokoro_sample_rate()
        audio, words, estimated = speak_all(text, lambda u: self._speak(kokoro, engine, style, u, language, speed),
                                           rate)
        if not len(audio):
            raise MediaError(f"Kokoro produced no audio for {text[:40]!r}")
        write_wav(out_path, audio, rate)
        return Speech(audio_path=out_path, duration=len(audio) / rate, words=tuple(words),
                      timings_estimated=estimated, characters=len(text))


def kokoro_sample_rate() -> int:
    """Kokoro's output rate (24 kHz)."""
    from kokoro_onnx.config import SAMPLE_RATE

    return int(SAMPLE_RATE)
