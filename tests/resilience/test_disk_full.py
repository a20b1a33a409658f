"""The output folder's disk fills up: a clear error, and nothing half-written at or beside the output path.

The output folder is a 3 MB tmpfs (mounting needs root; the test is skipped, saying why, without it),
filled so that the run's files fit but the final video does not.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from flows.make_video import make_video
from providers.errors import AuraError, ConfigurationError
from providers.settings import get_settings
from tasks.schemas import Brief, RenderSpec
from tests.resilience.conftest import ffmpeg_under, partials, topic

FREE_KB = 256  # room for the concat list and a few KB of video, not for the whole ~0.8 MB


def _fill(folder: Path, leave_kb: int) -> int:
    """Fill `folder`'s disk until `leave_kb` KB are free; the free bytes left."""
    free = shutil.disk_usage(folder).free
    (folder / "filler.bin").write_bytes(b"\0" * (free - leave_kb * 1024))
    return shutil.disk_usage(folder).free


def test_disk_full_during_the_final_write_fails_clearly_and_leaves_nothing(
        small_disk: Path, env: pytest.MonkeyPatch) -> None:
    env.setenv("AURA_MIN_FREE_DISK_GB", "0")  # let the preflight pass: the disk fills during the write
    get_settings.cache_clear()
    free = _fill(small_disk, FREE_KB)
    out = small_disk / "videos" / "bees.mp4"

    with pytest.raises(AuraError) as info:
        make_video(brief=Brief(topic=topic("disk-full"), duration=10, density="sparse"),
                   render=RenderSpec(resolution="360p", fps=24, quality="draft"), out=str(out))

    print(f"\ndisk full: {type(info.value).__name__}: {info.value}")
    assert str(info.value).startswith("the disk is full: bees.mp4 could not be written")
    assert not out.exists() and not out.with_suffix(".srt").exists()
    assert partials(small_disk) == []
    # nothing at all is left in the output's folder, and the space the failed write took is free again
    left = [p for p in small_disk.rglob("*") if p.is_file() and p.name != "filler.bin"]
    assert left == []
    assert shutil.disk_usage(small_disk).free >= free - 4096
    assert ffmpeg_under() == []


def test_a_disk_too_small_is_refused_before_any_work(small_disk: Path, env: pytest.MonkeyPatch) -> None:
    out = small_disk / "bees.mp4"

    with pytest.raises(ConfigurationError, match=r"GB free in .*small-disk; Aura needs 1\.0 GB"):
        make_video(brief=Brief(topic=topic("disk-small"), duration=10, density="sparse"),
                   render=RenderSpec(resolution="360p", fps=24, quality="draft"), out=str(out))
    assert list(small_disk.iterdir()) == []
