"""Probing, audio joins and the ffmpeg runner: real ffmpeg, real files, no orphans."""

from __future__ import annotations

import time
from pathlib import Path

import psutil
import pytest

from providers.base import VoiceSettings
from providers.errors import MediaError, TransientError
from providers.media.process import run_ffmpeg
from providers.media.streams import audio_duration, concat_audio, probe
from providers.tts.espeak import EspeakVoice


def test_concat_audio_pads_to_the_asked_length(tmp_path: Path) -> None:
    a = EspeakVoice().synthesize("One two three.", tmp_path / "a.wav", VoiceSettings()).audio_path
    b = EspeakVoice().synthesize("Four five.", tmp_path / "b.wav", VoiceSettings()).audio_path
    total = audio_duration(a) + audio_duration(b)
    out = concat_audio([a, b], tmp_path / "ab.wav", length=round(total, 1) + 0.05)
    assert audio_duration(out) == pytest.approx(round(total, 1) + 0.05, abs=1e-3)


def test_probe_rejects_missing_and_broken_files(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="no media file"):
        probe(tmp_path / "none.mp4")
    (tmp_path / "bad.mp4").write_bytes(b"not a video at all" * 10)
    with pytest.raises(MediaError):
        probe(tmp_path / "bad.mp4")


def test_ffmpeg_error_is_a_clear_media_error(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="ffmpeg failed"):
        run_ffmpeg(["-i", tmp_path / "missing.wav", tmp_path / "out.wav"])


def _ffmpeg_children() -> list[psutil.Process]:
    return [p for p in psutil.Process().children(recursive=True) if "ffmpeg" in p.name()]


def test_timeout_kills_ffmpeg(tmp_path: Path) -> None:
    """A thread cannot be interrupted, so every ffmpeg has its own deadline and is killed at it."""
    started = time.monotonic()
    with pytest.raises(TransientError, match="longer than"):
        run_ffmpeg(["-f", "lavfi", "-re", "-i", "sine=d=60", "-f", "null", "-"], timeout=1.0)
    assert time.monotonic() - started < 5
    assert _ffmpeg_children() == []


def test_stalled_ffmpeg_is_killed(tmp_path: Path) -> None:
    """No progress lines for the stall limit: ffmpeg is reading a pipe that never delivers."""
    import os

    read_end, write_end = os.pipe()
    fifo = f"/proc/{os.getpid()}/fd/{read_end}"
    try:
        with pytest.raises(TransientError, match="no progress"):
            run_ffmpeg(["-f", "s16le", "-ar", "8000", "-ac", "1", "-i", fifo, "-f", "null", "-"],
                       timeout=30, stall_timeout=1.0)
    finally:
        os.close(read_end)
        os.close(write_end)
    assert _ffmpeg_children() == []
