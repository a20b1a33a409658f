"""Where a run's media lives: one folder per job, file names derived from the inputs that shape them."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel

__all__ = ["content_key", "default_output", "job_key", "job_key_for", "media_path", "run_folder", "slug"]


def content_key(*parts: Any, length: int = 12) -> str:
    """A short stable hash of JSON-serialisable parts."""
    blob = json.dumps(parts, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:length]


def job_key(*parts: Any) -> str:
    """The job's identity: the same brief, render spec and providers give the same key."""
    return content_key(*parts, length=16)


def media_path(run_dir: str, kind: str, index: int, key: str, suffix: str) -> Path:
    """`RUN/kind/scene-007-KEY.suffix`: stable for the same inputs, new when they change."""
    return Path(run_dir) / kind / f"scene-{index:03d}-{key}{suffix}"


def slug(text: str, length: int = 40) -> str:
    """A file-name-safe lower-case slug of `text`."""
    cleaned = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return (cleaned[:length].rstrip("-") or "video")


def run_folder(home_runs: Path, job: str) -> Path:
    """The folder holding one job's media."""
    return home_runs / job


def default_output(videos: Path, topic: str, job: str) -> Path:
    """Where a video goes when no output path is given."""
    return videos / f"{slug(topic)}-{job[:8]}.mp4"


def job_key_for(brief: BaseModel, render: BaseModel, providers: BaseModel) -> str:
    """The job key of one video request: its brief, render spec and providers."""
    return job_key(brief.model_dump(mode="json"), render.model_dump(mode="json"), providers.model_dump(mode="json"))
