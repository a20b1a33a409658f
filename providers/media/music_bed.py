"""A music bed made by Aura itself: a soft chord pad, synthesised with numpy, that loops without a seam.

Four chords (Cmaj9, Am9, Fmaj9, G6/9 by default), each a few detuned sine voices with soft upper
partials, swell into one another under raised-cosine envelopes. Every partial, the envelopes and the
slow tremolo complete a whole number of cycles over the loop, so the last sample runs on into the
first: `-stream_loop` (how the mix loops music) plays it for any length without a click. The
result is the project's own work, dedicated to the public domain (CC0), so the README's music example
works without a file from elsewhere.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from providers.media.files import atomic_path

__all__ = ["CHORDS", "music_bed", "write_music_bed"]

# MIDI notes of each chord, bass first: C major 9, A minor 9, F major 9, G 6/9, a calm I-vi-IV-V
CHORDS: tuple[tuple[int, ...], ...] = (
    (48, 55, 64, 71, 74),
    (45, 52, 60, 67, 71),
    (41, 48, 57, 64, 67),
    (43, 50, 59, 64, 69),
)


def _hz(note: int) -> float:
    return 440.0 * 2 ** ((note - 69) / 12)


def music_bed(seconds: float = 16.0, rate: int = 48000, chords: tuple[tuple[int, ...], ...] = CHORDS) -> np.ndarray:
    """The pad as float32 stereo samples, shape (n, 2), peak about 0.5 (-6 dBFS); it loops seamlessly."""
    n = int(round(seconds * rate))
    loop = n / rate
    t = np.arange(n) / rate
    out = np.zeros((n, 2))
    slot = loop / len(chords)

    def cycles(hz: float) -> float:
        """`hz` moved to the nearest frequency with a whole number of cycles per loop (under 0.1 Hz away)."""
        return max(1, round(hz * loop)) / loop

    for k, chord in enumerate(chords):
        # a raised-cosine swell centred on the chord's slot, one and a half slots wide, wrapping round the loop
        centre = (k + 0.5) * slot
        distance = (t - centre + loop / 2) % loop - loop / 2
        on = np.nonzero(np.abs(distance) < 0.75 * slot)[0]  # synthesise only where the chord sounds
        envelope = 0.5 + 0.5 * np.cos(np.pi * distance[on] / (0.75 * slot))
        ts = t[on]
        for i, note in enumerate(chord):
            base = _hz(note)
            level = 0.55 if i == 0 else 0.32  # a fuller bass note, softer upper voices
            for side, detune in ((0, -0.0025), (1, 0.0025)):  # a slight chorus, different per ear
                f = cycles(base * (1 + detune))
                voice = np.sin(2 * np.pi * f * ts + i) + 0.18 * np.sin(2 * np.pi * cycles(2 * f) * ts)
                voice += 0.06 * np.sin(2 * np.pi * cycles(3 * f) * ts)
                out[on, side] += level * envelope * voice
    tremolo = 1 + 0.08 * np.sin(2 * np.pi * cycles(0.25) * t)  # a slow breath, also whole cycles per loop
    out *= tremolo[:, None]
    out *= 0.5 / max(1e-9, float(np.abs(out).max()))
    return out.astype(np.float32)


def write_music_bed(path: Path, seconds: float = 16.0, rate: int = 48000) -> Path:
    """Write the pad to `path` as a 16-bit stereo WAV (written whole or not at all)."""
    samples = (music_bed(seconds, rate) * 32767).round().astype("<i2")
    with atomic_path(path) as tmp, wave.open(str(tmp), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return path
