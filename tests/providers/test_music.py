"""The soundtrack: music looped or trimmed, ducked under the narration, and the mix at -14 LUFS / -1 dBTP."""

from __future__ import annotations

import wave
from pathlib import Path

import av
import numpy as np
import pytest

from providers.media.audio import measure_loudness, mix_audio
from providers.media.streams import probe

VOICE_HZ, MUSIC_HZ = 220, 1000


def _wav(path: Path, signal: np.ndarray, rate: int, channels: int = 1) -> Path:
    data = np.clip(signal, -1, 1)
    if channels == 2:
        data = np.repeat(data, 2)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((data * 32767).astype(np.int16).tobytes())
    return path


def _narration(tmp: Path, seconds: float = 6.0) -> Path:
    """A 'voice' that speaks for one second, pauses for one, and so on."""
    rate = 24000
    t = np.arange(int(rate * seconds)) / rate
    speaking = (t % 2.0) < 1.0
    return _wav(tmp / "voice.wav", 0.3 * np.sin(2 * np.pi * VOICE_HZ * t) * speaking, rate)


def _music(tmp: Path, seconds: float) -> Path:
    rate = 44100
    t = np.arange(int(rate * seconds)) / rate
    return _wav(tmp / f"music-{seconds}.wav", 0.2 * np.sin(2 * np.pi * MUSIC_HZ * t), rate, channels=2)


def _decode(path: Path) -> tuple[np.ndarray, int]:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate
        chunks = [f.to_ndarray()[0] for f in container.decode(stream)]  # planar float: first channel
    return np.concatenate(chunks), rate


def _level(samples: np.ndarray, rate: int, start: float, end: float, hz: float) -> float:
    """dB of the `hz` component in [start, end)."""
    part = samples[int(start * rate):int(end * rate)]
    spectrum = np.abs(np.fft.rfft(part * np.hanning(len(part))))
    freqs = np.fft.rfftfreq(len(part), 1 / rate)
    return float(20 * np.log10(spectrum[(freqs > hz - 20) & (freqs < hz + 20)].max() + 1e-12))


def test_music_is_ducked_while_the_narration_speaks(tmp_path: Path) -> None:
    track = mix_audio(_narration(tmp_path), tmp_path / "mix.m4a", length=5.5, music=_music(tmp_path, 2.5))
    samples, rate = _decode(track.path)
    under_speech = [_level(samples, rate, a, a + 0.4, MUSIC_HZ) for a in (0.4, 2.4)]
    in_pauses = [_level(samples, rate, a, a + 0.4, MUSIC_HZ) for a in (1.5, 3.5)]
    assert min(in_pauses) - max(under_speech) >= 8  # dB
    assert _level(samples, rate, 2.4, 2.8, VOICE_HZ) > _level(samples, rate, 2.4, 2.8, MUSIC_HZ) + 10
    assert track.music


def test_without_ducking_the_music_stays_level(tmp_path: Path) -> None:
    track = mix_audio(_narration(tmp_path), tmp_path / "flat.m4a", length=5.5, music=_music(tmp_path, 2.5),
                      duck=False)
    samples, rate = _decode(track.path)
    assert abs(_level(samples, rate, 2.4, 2.8, MUSIC_HZ) - _level(samples, rate, 3.5, 3.9, MUSIC_HZ)) < 2


@pytest.mark.parametrize("music_seconds", [None, 2.5, 9.0])
def test_the_mix_meets_the_loudness_target_and_lasts_exactly_the_video(tmp_path: Path,
                                                                      music_seconds: float | None) -> None:
    music = _music(tmp_path, music_seconds) if music_seconds else None  # none, looped, trimmed
    track = mix_audio(_narration(tmp_path), tmp_path / "mix.m4a", length=5.5, music=music)
    measured = measure_loudness(track.path)
    assert measured == track.loudness
    assert measured.integrated == pytest.approx(-14.0, abs=0.5)
    assert measured.true_peak <= -1.0
    info = probe(track.path)
    assert info.audio_codec == "aac" and info.audio_duration == pytest.approx(5.5, abs=0.01)


def test_another_target_level(tmp_path: Path) -> None:
    track = mix_audio(_narration(tmp_path), tmp_path / "quiet.m4a", length=4.0, loudness=-23.0)
    assert track.loudness.integrated == pytest.approx(-23.0, abs=0.5) and track.loudness.true_peak <= -1.0
