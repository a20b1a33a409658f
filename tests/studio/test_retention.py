"""The API's retention policy on real files: what goes, what stays, and the API applying it at start."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import httpx
import pytest

from studio.retention import ENDED_MARK, EXPIRED_MARK, prune_ended_jobs

DAY = 86_400.0


def make_job(home: Path, job_id: str, key: str, ended: bool = True, age_days: float = 10,
             out: Path | None = None) -> dict[str, Path]:
    """A job as the API leaves it on disk: its folder, its video with caption files, its run's media."""
    folder = home / "api" / "jobs" / job_id
    folder.mkdir(parents=True)
    video = out or home / "api" / "videos" / f"topic-{job_id}.mp4"
    video.parent.mkdir(parents=True, exist_ok=True)
    for suffix in (".mp4", ".srt", ".vtt"):
        video.with_suffix(suffix).write_bytes(b"x" * 1000)
    run = home / "runs" / key
    (run / "segments").mkdir(parents=True, exist_ok=True)
    (run / "segments" / "000.mp4").write_bytes(b"y" * 5000)
    (folder / "job.json").write_text(json.dumps({"job_id": job_id, "out": str(video), "key": key}))
    if ended:
        then = time.time() - age_days * DAY
        (folder / ENDED_MARK).write_text(json.dumps({"status": "done", "video": str(video), "at": then}))
        os.utime(folder / ENDED_MARK, (then, then))
    return {"folder": folder, "video": video, "run": run}


def test_old_ended_jobs_lose_their_video_and_media_but_keep_their_record(tmp_path: Path) -> None:
    job = make_job(tmp_path, "a", "key-a")
    pruned = prune_ended_jobs(tmp_path, keep_seconds=7 * DAY)
    assert (pruned.jobs, pruned.files, pruned.bytes) == (1, 4, 8000)
    assert not any(job["video"].parent.iterdir())
    assert not job["run"].exists()
    assert (job["folder"] / "job.json").exists() and (job["folder"] / ENDED_MARK).exists()
    assert (job["folder"] / EXPIRED_MARK).exists()
    assert prune_ended_jobs(tmp_path, keep_seconds=7 * DAY).jobs == 0  # once is enough


def test_recent_and_unfinished_jobs_are_kept(tmp_path: Path) -> None:
    recent = make_job(tmp_path, "recent", "key-r", age_days=1)
    running = make_job(tmp_path, "running", "key-u", ended=False, age_days=30)
    assert prune_ended_jobs(tmp_path, keep_seconds=7 * DAY).jobs == 0
    for job in (recent, running):
        assert job["video"].exists() and job["run"].exists()


def test_a_run_folder_an_unfinished_job_shares_is_kept(tmp_path: Path) -> None:
    old = make_job(tmp_path, "old", "same-key")
    make_job(tmp_path, "again", "same-key", ended=False, age_days=0)
    assert prune_ended_jobs(tmp_path, keep_seconds=7 * DAY).jobs == 1
    assert not old["video"].exists()
    assert (old["run"] / "segments" / "000.mp4").exists()


def test_nothing_outside_the_api_folders_is_removed(tmp_path: Path) -> None:
    elsewhere = tmp_path / "mine" / "video.mp4"
    job = make_job(tmp_path, "odd", "../mine", out=elsewhere)
    assert prune_ended_jobs(tmp_path, keep_seconds=7 * DAY).jobs == 1
    assert elsewhere.exists() and elsewhere.with_suffix(".srt").exists()
    assert (tmp_path / "mine").is_dir() and (job["folder"] / "job.json").exists()


def test_keep_zero_keeps_everything(tmp_path: Path) -> None:
    job = make_job(tmp_path, "a", "key-a", age_days=3000)
    assert prune_ended_jobs(tmp_path, keep_seconds=0).jobs == 0
    assert job["video"].exists() and job["run"].exists()


@pytest.mark.timeout(300)
def test_the_api_applies_the_policy_when_it_starts(tmp_path: Path) -> None:
    from providers.settings import get_settings
    from studio.api import ApiSettings, create_app
    from tests.studio.served import running_server

    old = make_job(tmp_path, "old", "key-old", age_days=10)
    fresh = make_job(tmp_path, "fresh", "key-fresh", age_days=0)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AURA_HOME", str(tmp_path))
        get_settings.cache_clear()
        try:
            app = create_app(ApiSettings(keep_days=7))
            with running_server(app) as base:
                assert httpx.get(f"{base}/healthz", timeout=30).status_code == 200
                deadline = time.monotonic() + 30
                while old["video"].exists() and time.monotonic() < deadline:
                    time.sleep(0.2)
                assert not old["video"].exists() and not old["run"].exists()
                assert fresh["video"].exists() and fresh["run"].exists()
        finally:
            get_settings.cache_clear()
