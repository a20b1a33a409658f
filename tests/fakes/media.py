"""Real, decodable test media made on the fly: short MP3/WAV tones and PNGs."""

from __future__ import annotations

import io
import wave
from functools import lru_cache

import av
import numpy as np
from PIL import Image

__all__ = ["mp3_tone", "png", "wav_tone"]


def _tone(seconds: float, rate: int, freq: float = 220.0, level: float = 0.2) -> np.ndarray:
    n = max(1, int(rate * seconds))
    t = np.arange(n) / rate
    return (level * np.sin(2 * np.pi * freq * t) * 32767).astype(np.int16)


@lru_cache(maxsize=64)
def mp3_tone(seconds: float, rate: int = 24000) -> bytes:
    """An MP3 of a quiet 220 Hz tone lasting `seconds`."""
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp3") as out:
        stream = out.add_stream("libmp3lame", rate=rate, layout="mono")
        frame = av.AudioFrame.from_ndarray(_tone(seconds, rate).reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()


@lru_cache(maxsize=64)
def wav_tone(seconds: float, rate: int = 24000, freq: float = 220.0, level: float = 0.2) -> bytes:
    """A 16-bit mono WAV of a quiet tone (`freq` Hz at `level` of full scale) lasting `seconds`."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(_tone(seconds, rate, freq, level).tobytes())
    return buf.getvalue()


@lru_cache(maxsize=64)
def png(width: int, height: int, color: tuple[int, int, int] = (40, 120, 200)) -> bytes:
    """A PNG of `width`×`height` with a horizontal gradient (so that crops are visible)."""
    row = np.linspace(0, 255, width, dtype=np.uint8)
    arr = np.empty((height, width, 3), dtype=np.uint8)
    arr[..., 0] = row
    arr[..., 1] = color[1]
    arr[..., 2] = color[2]
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()
