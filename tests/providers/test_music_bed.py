"""Aura's own music bed: a soft pad that ffmpeg loops without a seam, and the `aura music` command that writes it."""

from __future__ import annotations

import os
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np

from providers.media.audio import measure_loudness
from providers.media.music_bed import music_bed, write_music_bed
from providers.media.process import ffmpeg_exe


def test_the_bed_is_one_period_of_a_loop() -> None:
    x = music_bed(seconds=8.0, rate=16000)
    steps = np.abs(np.diff(x, axis=0)).max()
    # from the last sample to the first is no bigger a step than any inside: no click where it wraps
    assert np.abs(x[0] - x[-1]).max() <= steps
    assert 0.45 < np.abs(x).max() <= 0.5
    # soft: almost all its energy below 2 kHz, and it is not silent anywhere for long (chords overlap)
    spectrum = np.abs(np.fft.rfft(x[:, 0])) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / 16000)
    assert spectrum[freqs > 2000].sum() < 0.01 * spectrum.sum()
    windows = np.abs(x[: len(x) // 800 * 800, 0]).reshape(-1, 800).max(axis=1)
    assert windows.min() > 0.02


def test_ffmpeg_loops_the_written_file_seamlessly(tmp_path: Path) -> None:
    bed = write_music_bed(tmp_path / "bed.wav", seconds=4.0, rate=16000)
    with wave.open(str(bed)) as w:
        assert (w.getnchannels(), w.getframerate(), w.getnframes()) == (2, 16000, 64000)
    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-stream_loop", "2", "-i", str(bed), "-f", "f32le", "-ac", "1",
                          "-"], capture_output=True, check=True, timeout=60).stdout
    looped = np.frombuffer(raw, dtype="<f4")
    assert len(looped) == 3 * 64000
    steps = np.abs(np.diff(looped))
    inside = steps[:63990].max()
    assert steps[63999] <= inside and steps[2 * 64000 - 1] <= inside  # the joins are as smooth as the rest
    assert -30 < measure_loudness(bed).integrated < -10


def test_aura_music_writes_a_bed_and_refuses_bad_names(tmp_path: Path) -> None:
    env = {**os.environ, "AURA_HOME": str(tmp_path / "home")}

    def aura(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "studio.cli", "music", *args], capture_output=True, text=True,
                              env=env, cwd=tmp_path, timeout=120, stdin=subprocess.DEVNULL)

    done = aura("calm.wav", "--seconds", "4")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "calm.wav").stat().st_size > 4 * 48000 * 4
    for args, says in [(["calm.mp3"], ".wav"), ([str(tmp_path / "no" / "x.wav")], "does not exist")]:
        refused = aura(*args)
        assert refused.returncode == 2 and says in refused.stderr and refused.stderr.count("\n") == 1
    assert not (tmp_path / "no").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["calm.wav"]
