"""The scratch estimate follows the measurements in tasks/scratch.py (benchmarks/scratch_bench.py)."""

from __future__ import annotations

import pytest

from tasks.schemas import Brief, RenderSpec
from tasks.scratch import scratch_bytes

MEASURED_PEAK = {  # MB per second of video, peak: run folder + output folder (benchmarks/scratch_bench.py)
    ("720p", 30, "standard"): 1.32, ("360p", 24, "draft"): 1.31, ("720p", 30, "high"): 1.48,
    ("1080p", 30, "standard"): 1.47, ("1080p", 60, "high"): 1.96,
}


@pytest.mark.parametrize("case", list(MEASURED_PEAK))
def test_the_estimate_covers_each_measured_peak_with_a_margin_but_not_a_wasteful_one(case: tuple) -> None:
    resolution, fps, quality = case
    brief = Brief(topic="x", duration=600)
    estimate = scratch_bytes(brief, RenderSpec(resolution=resolution, fps=fps, quality=quality))
    measured = MEASURED_PEAK[case] * 1e6 * brief.duration
    assert 1.1 * measured <= estimate <= 1.7 * measured


def test_a_thirty_minute_720p_video_needs_about_three_gb() -> None:
    estimate = scratch_bytes(Brief(topic="x", duration=1800), RenderSpec())
    assert 2.1e9 <= estimate <= 3.5e9  # the issue measured ~2.1 GB on one such run; the speech may run longer


def test_more_time_or_pixels_never_need_less() -> None:
    short, long = Brief(topic="x", duration=10), Brief(topic="x", duration=1800)
    assert scratch_bytes(short, RenderSpec()) < scratch_bytes(long, RenderSpec())
    sizes = [scratch_bytes(long, RenderSpec(resolution=r)) for r in ("480p", "720p", "1080p", "2160p")]
    assert sizes == sorted(sizes)
