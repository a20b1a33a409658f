"""The brief stage: output path checks and the machine preflight."""

from __future__ import annotations

from pathlib import Path

import pytest

from providers.errors import ConfigurationError
from tasks.brief import BriefError, check_machine, check_output_path, validate_brief
from tasks.schemas import Brief, RenderSpec


def test_output_path_rules(tmp_path: Path) -> None:
    assert check_output_path(tmp_path / "new" / "v.mp4") == (tmp_path / "new" / "v.mp4").resolve()
    with pytest.raises(BriefError, match=r"\.mp4"):
        check_output_path(tmp_path / "v.mov")
    (tmp_path / "dir.mp4").mkdir()
    with pytest.raises(BriefError, match="folder"):
        check_output_path(tmp_path / "dir.mp4")
    (tmp_path / "file").write_text("x")
    with pytest.raises(BriefError, match="not a writable folder"):
        check_output_path(tmp_path / "file" / "v.mp4")
    assert not (tmp_path / "new").exists()


def test_machine_check_reports_and_refuses(tmp_path: Path) -> None:
    preflight = check_machine(tmp_path, 0.001, 1)
    assert preflight.free_disk_gb > 0 and preflight.available_memory_mb > 0 and preflight.ffmpeg
    with pytest.raises(ConfigurationError, match="GB free"):
        check_machine(tmp_path, 1e9, 1)
    with pytest.raises(ConfigurationError, match="memory"):
        check_machine(tmp_path, 0.0, 10**9)


def test_validate_brief_task(tmp_path: Path, aura_home: Path) -> None:
    preflight = validate_brief.fn(Brief(topic="x"), RenderSpec(), str(tmp_path / "v.mp4"), str(tmp_path / "run"))
    assert preflight.ffmpeg
