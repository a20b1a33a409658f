"""Leftovers of killed runs are swept; finished files and fresh partials beside the output are kept."""

from __future__ import annotations

import os
import time
from pathlib import Path

from tasks.runtime.cleanup import sweep_leftovers, sweep_partials


def test_sweep_removes_partials_and_scratch_folders(tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "segments" / ".captions-abc").mkdir(parents=True)
    (run / "segments" / ".scene-001-x.1234abcd.partial.mp4").write_bytes(b"half")
    (run / "segments" / "scene-000-x.mp4").write_bytes(b"done")
    removed = sweep_partials(run)
    assert len(removed) == 2
    assert [p.name for p in (run / "segments").iterdir()] == ["scene-000-x.mp4"]


def test_beside_the_output_only_stale_partials_go(tmp_path: Path) -> None:
    run, videos = tmp_path / "run", tmp_path / "videos"
    videos.mkdir()
    stale = videos / ".a.11111111.partial.mp4"
    fresh = videos / ".b.22222222.partial.mp4"
    other = videos / "notes.txt"
    for path in (stale, fresh, other):
        path.write_text("x")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    assert sweep_leftovers.fn(str(run), str(videos / "v.mp4")) == 1
    assert not stale.exists() and fresh.exists() and other.exists()
