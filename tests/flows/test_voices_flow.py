"""The flow end to end with Kokoro and with Piper: a valid MP4 whose captions follow the speech."""

from __future__ import annotations

import re
from pathlib import Path

import av
import numpy as np
import pytest

from providers.media.streams import probe
from providers.settings import get_settings
from tasks.schemas import Brief, Providers, RenderSpec
from tests.providers.voice_models import KOKORO_VOICE, PIPER_VOICE, kokoro_folder, piper_folder

_CUE = re.compile(r"(\d\d):(\d\d):(\d\d),(\d\d\d) --> (\d\d):(\d\d):(\d\d),(\d\d\d)")


def _cues(srt: Path) -> list[tuple[float, float]]:
    out = []
    for m in _CUE.finditer(srt.read_text(encoding="utf-8")):
        h1, m1, s1, ms1, h2, m2, s2, ms2 = (int(g) for g in m.groups())
        out.append((h1 * 3600 + m1 * 60 + s1 + ms1 / 1000, h2 * 3600 + m2 * 60 + s2 + ms2 / 1000))
    return out


def _loud_frames(video: Path) -> np.ndarray:
    """Which 10 ms frames of the MP4's soundtrack carry speech (within 40 dB of its loudest)."""
    with av.open(str(video)) as container:
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=48000)
        chunks = [f.to_ndarray().ravel() for frame in container.decode(stream) for f in resampler.resample(frame)]
    samples = np.concatenate(chunks).astype(np.float64)
    usable = len(samples) // 480 * 480
    rms = np.sqrt((samples[:usable].reshape(-1, 480) ** 2).mean(1))
    return rms > rms.max() * 10 ** (-40 / 20)


@pytest.mark.e2e
@pytest.mark.parametrize("engine", ["kokoro", "piper"])
def test_a_natural_voice_renders_a_video_whose_captions_follow_the_speech(engine: str, tmp_path_factory,
                                                                          monkeypatch) -> None:
    from flows.make_video import make_video

    root = tmp_path_factory.mktemp(f"flow-{engine}")
    if engine == "kokoro":
        monkeypatch.setenv("AURA_KOKORO_DIR", str(kokoro_folder(root)))
        spec = f"kokoro:{KOKORO_VOICE}"
    else:
        monkeypatch.setenv("AURA_PIPER_VOICES", str(piper_folder(root)))
        spec = f"piper:{PIPER_VOICE}"
    monkeypatch.setenv("AURA_HOME", str(root / "home"))
    monkeypatch.setenv("AURA_TTS_THREADS", "1")
    get_settings.cache_clear()
    try:
        out = root / "tides.mp4"
        video = make_video(brief=Brief(topic="How tides work", duration=10, density="sparse"),
                           render=RenderSpec(resolution="360p", fps=24, quality="draft", motion=False),
                           providers=Providers(tts=spec), out=str(out))
    finally:
        get_settings.cache_clear()

    info = probe(out)
    assert (info.video_codec, info.audio_codec) == ("h264", "aac") and video.scenes == 1
    assert abs(info.video_duration - video.narration_duration) <= 1 / 24 + 1e-3
    assert video.degraded == {}, video.degraded  # the natural voice spoke, no fallback to espeak
    cues = _cues(out.with_suffix(".srt"))
    loud = _loud_frames(out)
    speech = np.flatnonzero(loud)
    assert len(cues) >= 2 and len(speech)
    # the captions start with the speech, and each caption starts on a word that is heard within 100 ms
    assert abs(cues[0][0] - speech[0] / 100) <= 0.1, (cues[0], speech[0] / 100)
    for start, end in cues:
        near = loud[max(0, int((start - 0.1) * 100)):int((start + 0.1) * 100) + 1]
        assert near.any(), (start, end)
    assert cues[-1][1] >= speech[-1] / 100 - 0.1
