"""The video in the Prefect UI: the API's download URL for `aura serve` jobs, else the path as text; the log too."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from prefect import flow, tags
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

from tasks.runtime.artifacts import (
    API_JOB_TAG,
    PUBLIC_URL_VAR,
    RunTracker,
    SheetCell,
    storyboard_markdown,
    video_markdown,
    video_url,
)
from tasks.schemas import Providers, Scene, SceneImage, Script, StageMetrics, Video


def _video(path: Path) -> Video:
    return Video(path=path, duration=12.0, narration_duration=12.0, width=640, height=360, fps=24, video_codec="h264",
                 audio_codec="aac", size_bytes=2_000_000, title="Bees `how`", scenes=1, job_key="0123456789abcdef",
                 created_at=datetime.now(UTC), metrics={})


def test_download_url_only_for_api_jobs_with_a_public_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PUBLIC_URL_VAR, raising=False)
    assert video_url("abc", api_job=True) is None
    monkeypatch.setenv(PUBLIC_URL_VAR, "http://127.0.0.1:8000/")
    assert video_url("abc", api_job=True) == "http://127.0.0.1:8000/api/videos/abc/download"
    assert video_url("abc", api_job=False) is None  # a CLI run: the API does not know its video
    monkeypatch.setenv(PUBLIC_URL_VAR, "file:///etc")
    assert video_url("abc", api_job=True) is None


def test_video_as_text_names_the_path_and_is_no_link(tmp_path: Path) -> None:
    text = video_markdown(_video(tmp_path / "bees.mp4"))
    assert f"`{(tmp_path / 'bees.mp4').resolve()}`" in text and "](" not in text and "Bees \\`how\\`" in text


def test_storyboard_captions_wrap_and_show_as_written(tmp_path: Path) -> None:
    Image.new("RGB", (64, 36)).save(tmp_path / "s.png")
    caption = "A long caption " * 30 + "with *stars*, [brackets] and a | pipe."
    text = storyboard_markdown("Bees", [SheetCell(tmp_path / "s.png", "The waggle dance", caption)], "data:x")
    item = text.splitlines()[-1]
    assert item.startswith("1. **The waggle dance**: A long caption")
    assert "\\*stars\\*" in item and "\\[brackets\\]" in item and "\\|" in item


@flow
def _published(folder: str) -> str:
    from prefect.runtime import flow_run

    Image.new("RGB", (64, 36)).save(Path(folder) / "s.png")
    tracker = RunTracker.start()
    script = Script(title="Bees", scenes=(Scene(title="S", narration="Words.", visual_prompt="p"),))
    pictures = [SceneImage(index=0, path=Path(folder) / "s.png", width=64, height=36, digest="d")]
    tracker.publish(_video(Path(folder) / "bees.mp4"), script, pictures, Providers(),
                    {"script": StageMetrics(seconds=0.1, items_done=1, provider="local")})
    return str(flow_run.id)


def _video_artifact(run_id: str) -> Any:
    with get_client(sync_client=True) as client:
        of_run = ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]))
        found = client.read_artifacts(artifact_filter=of_run)
    return next(a for a in found if a.key == "aura-video")


def test_api_jobs_link_the_download_and_every_run_logs_the_path_last(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv(PUBLIC_URL_VAR, "http://127.0.0.1:8123")
    with caplog.at_level(logging.INFO, logger="prefect.flow_runs"), tags(API_JOB_TAG):
        run_id = _published(str(tmp_path))
    link = _video_artifact(run_id)
    assert link.data == f"[Bees `how` (bees.mp4)](http://127.0.0.1:8123/api/videos/{run_id}/download)"
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("prefect.flow_runs")]
    video_lines = [m for m in ours if "Video: " in m]  # after the run's correlation prefix
    assert len(video_lines) == 1 and video_lines[0].endswith(f"Video: {(tmp_path / 'bees.mp4').resolve()}")
    assert ours.index(video_lines[0]) >= len(ours) - 2  # only Prefect's own "Finished in state" may follow

    with tags("cli"):
        plain = _video_artifact(_published(str(tmp_path)))
    assert str((tmp_path / "bees.mp4").resolve()) in plain.data and "](" not in plain.data
