"""Piper voices through piper-tts: natural and fast on a CPU, with word timings from the model's alignments.

A Piper voice predicts how many audio samples each phoneme id lasts; piper-tts exposes those
counts when the graph's duration tensor is marked as an output (`add_alignment_output`, done in
memory at load time). Noise is switched off so that the same text gives the same audio. Voices
are loaded once per process and shared by every scene; calls are serialised by a lock.
"""

from __future__ import annotations

import itertools
import json
import threading
from pathlib import Path
from typing import Any

import numpy as np

from providers.base import Speech, VoiceSettings, WordTiming
from providers.errors import BadRequestError, ConfigurationError, MediaError
from providers.settings import get_settings
from providers.tts.voices import check_voice, piper_dir, piper_files, piper_missing
from providers.tts.words import Utterance, estimated_timings, plan_phonemes, speak_all, word_timings, write_wav

__all__ = ["NOMINAL_WPM", "PiperVoice"]

NOMINAL_WPM = 190  # a Piper voice's pace at length_scale 1.0 (joe: 103 words in 28 s, pauses included)
_PEAK = 0.9  # the narration is normalised to this peak as a whole, so sentences keep their relative loudness


class _Engine:
    """One loaded voice: the ONNX session with its alignment output, and piper-tts's voice object."""

    def __init__(self, model: Path, config: Path) -> None:
        import onnx
        import onnxruntime as ort
        from piper import PiperVoice as Voice
        from piper.config import PiperConfig
        from piper.patch_voice_with_alignment import add_alignment_output

        graph = onnx.load(str(model))
        try:
            add_alignment_output(graph)
        except ValueError as exc:  # already patched on disk, or an export without the duration tensor
            if "already" not in str(exc):
                raise MediaError(f"Piper voice {model.name} has no alignment output: {exc}") from exc
        options = ort.SessionOptions()
        threads = get_settings().tts_threads
        if threads:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in ort.get_available_providers()]
        session = ort.InferenceSession(graph.SerializeToString(), sess_options=options, providers=providers)
        settings = json.loads(config.read_text(encoding="utf-8"))
        self.voice = Voice(session=session, config=PiperConfig.from_dict(settings))
        self.lock = threading.Lock()


_engines: dict[tuple[Path, int, int | None], _Engine] = {}
_engines_lock = threading.Lock()


def _engine(model: Path, config: Path) -> _Engine:
    """The process's engine for this voice, loaded on first use."""
    key = (model, model.stat().st_mtime_ns, get_settings().tts_threads)
    with _engines_lock:
        if key not in _engines:
            _engines[key] = _Engine(model, config)
        return _engines[key]


def _flat(sentences: list[list[str]]) -> list[str]:
    """Piper's phonemes of a text, its sentences joined by a space."""
    out: list[str] = []
    for sentence in sentences:
        piece = [p for p in sentence]
        while piece and piece[-1].isspace():
            piece.pop()
        if piece:
            out += [" ", *piece] if out else piece
    return out


class PiperVoice:
    """TTS provider `piper:VOICE` (e.g. piper:en_US-lessac-medium, or a path to a `.onnx` voice)."""

    def __init__(self, model: str = "", **_: Any) -> None:
        if not model:
            raise ConfigurationError("a Piper voice needs a name, e.g. piper:en_US-lessac-medium (see `aura voices`)")
        check_voice(f"piper:{model}", allow_paths=True)
        self.voice = model

    def _files(self) -> tuple[Path, Path]:
        if self.voice.endswith(".onnx"):
            model = Path(self.voice).expanduser()
            config = model.with_name(model.name + ".json")
            if not (model.is_file() and config.is_file()):
                raise ConfigurationError(f"Piper voice files not found: put {model.name}.json beside {model}")
            return model, config
        found = piper_files(self.voice)
        if found is None:
            raise piper_missing(self.voice, piper_dir())
        return found

    def _speak(self, engine: _Engine, utterance: Utterance, syn: Any) -> tuple[np.ndarray, list[WordTiming], bool]:
        """One utterance's raw audio and word timings (estimated only if the model gave no alignment)."""
        from piper.const import BOS, EOS, PAD

        voice = engine.voice
        words = utterance.words
        id_map = voice.config.phoneme_id_map
        with engine.lock:
            whole = _flat(voice.phonemize(" ".join(words)))
            per_word = [_flat(voice.phonemize(w)) for w in words]
        symbols, owners = plan_phonemes(words, whole, per_word)
        kept = [(s, o) for s, o in zip(symbols, owners, strict=True) if s in id_map]  # as phonemes_to_ids does
        if not any(o >= 0 for _, o in kept):
            silence = np.zeros(int(0.2 * voice.config.sample_rate), np.float32)
            return silence, [WordTiming(word=w, start=0.0, end=0.0) for w in words], False
        symbols, owners = [s for s, _ in kept], [o for _, o in kept]
        ids = voice.phonemes_to_ids(symbols)
        with engine.lock:
            audio, samples = voice.phoneme_ids_to_audio(ids, syn, include_alignments=True)
        audio = np.asarray(audio, np.float32).ravel()
        rate = voice.config.sample_rate
        if samples is None or len(samples) != len(ids):
            return audio, estimated_timings(words, 0.0, len(audio) / rate), True
        # ids are BOS PAD, then each phoneme's ids followed by PAD, then EOS: a phoneme lasts its ids and its PAD
        pad = id_map.get(PAD, [])
        edges = np.concatenate([[0], np.cumsum(samples)]) * (len(audio) / max(1, int(np.sum(samples))))
        spans: list[tuple[float, float]] = []
        at = 0
        for symbol in itertools.chain([BOS], symbols, [EOS]):
            width = len(id_map.get(symbol, [])) + (len(pad) if symbol != EOS else 0)
            spans.append((float(edges[at]) / rate, float(edges[at + width]) / rate))
            at += width
        return audio, word_timings(words, symbols, owners, spans[1:-1], 0.0), False

    def synthesize(self, text: str, out_path: Path, settings: VoiceSettings) -> Speech:
        """Speak `text` into a 16-bit mono WAV at the voice's rate, with word timings from the model."""
        from piper import SynthesisConfig

        if not text.strip():
            raise BadRequestError("nothing to say: the narration text is empty")
        engine = _engine(*self._files())
        config = engine.voice.config
        syn = SynthesisConfig(
            length_scale=config.length_scale * NOMINAL_WPM / settings.words_per_minute,
            noise_scale=0.0, noise_w_scale=0.0,  # no noise: the same text gives the same audio
        )
        rate = config.sample_rate
        audio, words, estimated = speak_all(text, lambda u: self._speak(engine, u, syn), rate)
        peak = float(np.max(np.abs(audio))) if len(audio) else 0.0
        if peak < 1e-6:
            raise MediaError(f"Piper produced no audio for {text[:40]!r}")
        write_wav(out_path, audio * (_PEAK / peak), rate)
        return Speech(audio_path=out_path, duration=len(audio) / rate, words=tuple(words),
                      timings_estimated=estimated, characters=len(text))
