"""How much scratch disk a job needs: a pure estimate from the brief and the render spec, measured.

Measured with benchmarks/scratch_bench.py (drawn cards, espeak; run folder + output folder sampled every
0.2 s while the flow ran; load ~8 on 2 cores). MB per second of video, at the peak / once finished:

| case | peak | finished |
|---|---|---|
| 720p 30 fps standard (20 s and 60 s) | 1.32, 1.26 | 0.23, 0.22 |
| 360p 24 fps draft | 1.31 | 0.27 |
| 720p 30 fps high | 1.48 | 0.30 |
| 1080p 30 fps standard | 1.47 | 0.32 |
| 1080p 60 fps high | 1.96 | 0.60 |

The peak is dominated by the soundtrack's uncompressed work files (~1.1 MB/s whatever the frame
size); the rest (segments, the finished video, stills, AAC) grows slowly with pixels and frame rate,
and draft's fastest x264 preset compresses worst. The speech, not the brief, sets the length: the
estimate allows 1.3× the asked duration. Extrapolated: a 30-minute 720p video needs about 3.2 GB.
"""

from __future__ import annotations

from tasks.schemas import Brief, RenderSpec

__all__ = ["scratch_bytes"]

FLOOR = 50e6  # models of a run that do not grow with its length: the database rows, fonts, small files
AUDIO_WORK_PER_SECOND = 1.15e6  # the soundtrack's PCM work files at their peak
VIDEO_PER_SECOND = 0.23e6  # segments + finished video + stills at 1280x720, 30 fps, standard quality
QUALITY = {"draft": 2.4, "standard": 1.0, "high": 1.33}
SPEECH_MARGIN = 1.3  # the narration may run longer than asked; the video follows the speech


def scratch_bytes(brief: Brief, render: RenderSpec) -> int:
    """Disk a job of `brief` rendered as `render` needs at its peak: its run folder and its video."""
    width, height = render.frame_size(brief.aspect)
    frames = (width * height / (1280 * 720)) ** 0.45 * (render.fps / 30) ** 0.5
    per_second = AUDIO_WORK_PER_SECOND + VIDEO_PER_SECOND * frames * QUALITY[render.quality]
    return int(FLOOR + brief.duration * SPEECH_MARGIN * per_second)
