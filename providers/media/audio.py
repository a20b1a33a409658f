"""The final audio mix: narration, optional background music ducked under the speech, loudness-normalised.

    narration ──► gain to a working level ─────────────┬──────────────► mix ──► gain (+ limiter) ──► AAC
    music ──► loop/trim, fades, level below narration ─┴► sidechain ──┘          (-14 LUFS, TP ≤ -1 dBTP)
                                                        compress (key: narration)

Loudness is measured with ffmpeg's `ebur128` (integrated loudness, true peak). When a plain gain
reaches the target without pushing the true peak over the limit, a plain gain is applied (no
change to the sound); otherwise the gain goes with a look-ahead limiter run at twice the sample
rate (so that it sees most inter-sample peaks), corrected from a new measurement until the level is on target.
(`loudnorm` was tried first: its dynamic mode, which it falls back to for speech with a high
crest factor, landed 0.8 LU under the target and shortened the track by two frames.) The peak is
kept 0.7 dB under the limit because AAC encoding adds overshoot; the finished file is measured
again after encoding (and lowered, once, if AAC overshot). The output is AAC, 48 kHz stereo, exactly
`length` seconds long, ready to be muxed without re-encoding.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from providers.errors import MediaError
from providers.media.files import atomic_path
from providers.media.process import run_ffmpeg

__all__ = ["AAC_HEADROOM", "Loudness", "Soundtrack", "measure_loudness", "mix_audio"]

SAMPLE_RATE = 48000
VOICE_LEVEL = -18.0  # LUFS the narration is brought to before mixing: a known level for the ducking key
DUCK_THRESHOLD = 0.02  # sidechain threshold (about -34 dBFS): speech is well above it, pauses below
AAC_HEADROOM = 0.7  # dB kept below the true-peak limit, because AAC encoding adds overshoot


class Loudness(BaseModel):
    """EBU R128 figures of one audio track."""

    model_config = ConfigDict(frozen=True)

    integrated: float  # LUFS
    true_peak: float  # dBTP
    lra: float = 0.0  # LU


def _number(label: str, text: str) -> float:
    match = re.search(rf"{label}:\s*(-?inf|-?[0-9.]+)", text)
    if not match:
        raise MediaError(f"ebur128 printed no {label!r} figure")
    value = match.group(1)
    return float("-inf") if value.endswith("inf") else float(value)


def measure_loudness(path: Path, *, timeout: float = 600, stream: str = "a:0", peak: bool = True) -> Loudness:
    """Integrated loudness, true peak and loudness range of `path`'s audio, measured by ffmpeg's ebur128.

    Without `peak` the true peak (which costs 4x oversampling) is not measured and reads as 0.
    """
    scan = "ebur128=peak=true:framelog=verbose" if peak else "ebur128=framelog=verbose"
    stderr = run_ffmpeg(["-i", path, "-map", f"0:{stream}", "-af", scan, "-loglevel", "info", "-f", "null", "-"],
                        timeout=timeout)
    summary = stderr[stderr.rfind("Summary:"):]
    if "Summary:" not in stderr:
        raise MediaError(f"ebur128 printed no summary for {Path(path).name}")
    return Loudness(integrated=_number("I", summary), true_peak=_number("Peak", summary) if peak else 0.0,
                    lra=_number("LRA", summary))


def _gain_db(measured: float, target: float) -> float:
    # -70 LUFS is ebur128's floor: silence, or audio shorter than one 400 ms block. Leave it alone
    # rather than amplify noise by a huge gain.
    return 0.0 if measured <= -70 else target - measured


class Soundtrack(BaseModel):
    """The finished soundtrack: an AAC file of exactly `seconds`, and its measured loudness."""

    model_config = ConfigDict(frozen=True)

    path: Path
    seconds: float
    loudness: Loudness
    music: bool = False


def mix_audio(
    narration: Path,
    out_path: Path,
    *,
    length: float,
    music: Path | None = None,
    music_db: float = -16.0,
    duck: bool = True,
    loudness: float = -14.0,
    true_peak: float = -1.0,
    bitrate: str = "192k",
    timeout: float = 600,
) -> Soundtrack:
    """Mix `narration` with optional `music` into `out_path` (AAC, 48 kHz stereo) at `loudness` LUFS.

    The music is looped or trimmed to `length`, faded in and out, set `music_db` below the narration
    and, with `duck`, compressed by the narration (sidechain) so that it dips while someone speaks.
    The loudness returned is measured on the AAC file itself, the bytes that go into the video.
    """
    work = out_path.with_name(f".{out_path.stem}.mix.wav")
    levelled = out_path.with_name(f".{out_path.stem}.level.wav")
    fit = f"apad=whole_dur={length:.6f},atrim=end={length:.6f}"
    try:
        voice = measure_loudness(narration, timeout=timeout, peak=False)
        voice_gain = _gain_db(voice.integrated, VOICE_LEVEL)
        stereo = f"aresample={SAMPLE_RATE},aformat=sample_fmts=fltp:channel_layouts=stereo"
        inputs: list[str | Path] = ["-i", narration]
        if music is None:
            graph = f"[0:a]{stereo},volume={voice_gain:.2f}dB,{fit}[mix]"
        else:
            bed = measure_loudness(music, timeout=timeout, peak=False)
            music_gain = _gain_db(bed.integrated, VOICE_LEVEL + music_db)
            fade_in, fade_out = min(1.0, length / 4), min(2.0, length / 4)
            chains = [
                f"[0:a]{stereo},volume={voice_gain:.2f}dB,{fit},asplit=2[voice][key]",
                f"[1:a]{stereo},volume={music_gain:.2f}dB,atrim=end={length:.6f},asetpts=PTS-STARTPTS,"
                f"afade=t=in:d={fade_in:.3f},afade=t=out:st={length - fade_out:.3f}:d={fade_out:.3f},{fit}[bed]",
            ]
            if duck:
                chains.append(f"[bed][key]sidechaincompress=threshold={DUCK_THRESHOLD}:ratio=8:attack=15:release=400"
                              f":knee=2[ducked]")
            else:
                chains.append("[key]anullsink;[bed]anull[ducked]")
            chains.append("[voice][ducked]amix=inputs=2:duration=first:normalize=0[mix]")
            graph = ";".join(chains)
            inputs += ["-stream_loop", "-1", "-i", music]
        with atomic_path(work) as tmp:
            run_ffmpeg([*inputs, "-filter_complex", graph, "-map", "[mix]", "-c:a", "pcm_f32le", tmp], timeout=timeout)
        mixed = measure_loudness(work, timeout=timeout)
        gain = _gain_db(mixed.integrated, loudness)
        peak_limit = true_peak - AAC_HEADROOM
        if mixed.true_peak + gain <= peak_limit or gain == 0.0:
            source, level = work, f"volume={gain:.2f}dB,"
        else:
            _limit_to(work, levelled, gain, loudness, peak_limit, fit, timeout)
            source, level = levelled, ""
        result = _encode(source, out_path, level + fit, bitrate, timeout)
        if result.true_peak > true_peak:
            # AAC overshot the headroom: lower the whole track by the excess and encode again, once
            result = _encode(source, out_path, f"{level}volume={true_peak - result.true_peak - 0.1:.2f}dB,{fit}",
                             bitrate, timeout)
    finally:
        work.unlink(missing_ok=True)
        levelled.unlink(missing_ok=True)
    return Soundtrack(path=out_path, seconds=length, loudness=result, music=music is not None)


def _encode(source: Path, out_path: Path, chain: str, bitrate: str, timeout: float) -> Loudness:
    with atomic_path(out_path) as tmp:
        run_ffmpeg(["-i", source, "-af", chain, "-c:a", "aac", "-b:a", bitrate, tmp], timeout=timeout)
    return measure_loudness(out_path, timeout=timeout)


def _limit_to(source: Path, out_path: Path, gain: float, loudness: float, peak_limit: float, fit: str,
              timeout: float) -> Loudness:
    """Gain plus a look-ahead peak limiter (run at twice the sample rate, so it sees most inter-sample peaks).

    Limiting lowers the loudness a little, so the gain is corrected from a new measurement until
    the level is within 0.2 LU of the target (two or three passes for speech).
    """
    ceiling = 10 ** ((peak_limit - 0.3) / 20)
    for _ in range(4):
        chain = (f"volume={gain:.2f}dB,aresample={2 * SAMPLE_RATE},alimiter=limit={ceiling:.4f}:attack=2:release=60"
                 f":level=false:latency=true,aresample={SAMPLE_RATE},asetpts=N/SR/TB,{fit}")
        with atomic_path(out_path) as tmp:
            run_ffmpeg(["-i", source, "-af", chain, "-c:a", "pcm_f32le", tmp], timeout=timeout)
        result = measure_loudness(out_path, timeout=timeout)
        if abs(result.integrated - loudness) <= 0.2:
            break
        gain += loudness - result.integrated
    return result
