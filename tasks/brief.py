"""Stage 1: check the brief and the machine before any work starts."""

from __future__ import annotations

from pathlib import Path

from prefect import task

from providers.settings import get_settings
from tasks.preflight import BriefError, check_machine, check_output_path, scratch_bytes
from tasks.runtime.caching import resumable
from tasks.schemas import Brief, Preflight, RenderSpec

__all__ = ["BriefError", "check_machine", "check_output_path", "validate_brief"]


@task(name="validate_brief", cache_policy=resumable(), persist_result=True)
def validate_brief(brief: Brief, render: RenderSpec, out: str, run_dir: str) -> Preflight:
    """Check the brief, the output path and the machine; return what the machine check found."""
    Brief.model_validate(brief.model_dump())
    RenderSpec.model_validate(render.model_dump())
    target = check_output_path(out)
    settings = get_settings()

    # the run folder holds this job's scratch (segments, audio, stills): its need grows with the video
    check_machine(Path(run_dir), scratch_bytes(brief, render) / 1e9, 0)
    preflight = check_machine(target.parent, settings.min_free_disk_gb, settings.min_free_memory_mb)
    return preflight
