"""Run profiles: how hard Aura tries and how long it waits, chosen with AURA_PROFILE (or --profile).

| profile | retries | timeouts | temp files | logs | an invalid LLM script |
|---|---|---|---|---|---|
| default | 2 per stage | generous | removed | INFO | fails the run |
| debug | 2 per stage | 4× default | kept | DEBUG | fails the run |
| quick-demo | 1 | short | removed | INFO | falls back to the template writer |

The profile is read when the tasks are defined (import time), so a worker or CLI process picks it
up from its environment; it is not a flow parameter and not part of a job's identity.

Task timeouts: Prefect enforces `timeout_seconds` only in the thread that runs the flow. Mapped tasks run
in the task runner's worker threads, where a timeout cannot interrupt the blocking call (a TTS request, an
ffmpeg render): it fires only after the call has returned, failing work that did finish, and Prefect warns
"Timeout of … seconds configured … running in a worker thread" for every such task run. So `task_timeout`
gives those stages no task timeout; each of their calls is bounded where it blocks instead (the vendors'
request timeouts AURA_TTS_TIMEOUT / AURA_IMAGE_TIMEOUT, the ffmpeg timeout that kills the process).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from providers.errors import ConfigurationError
from providers.settings import get_settings

__all__ = ["PROFILES", "THREADED_STAGES", "Profile", "active_profile"]


class Profile(BaseModel):
    """Retries, timeouts and leniency for one kind of run."""

    model_config = ConfigDict(frozen=True)

    name: str
    retries: int
    stage_timeout: dict[str, float]
    run_timeout: float
    ffmpeg_timeout: float
    keep_temp: bool = False
    log_level: str = "INFO"
    template_on_invalid_script: bool = False

    def task_timeout(self, stage: str) -> float | None:
        """`timeout_seconds` for a stage's tasks: none where Prefect could not enforce it (worker threads)."""
        return None if stage in THREADED_STAGES else self.stage_timeout[stage]


# stages whose tasks are mapped onto worker threads (see the module's docstring)
THREADED_STAGES = frozenset({"voice", "visuals", "composition"})

_DEFAULT_TIMEOUTS = {"brief": 120.0, "script": 900.0, "voice": 900.0, "visuals": 3600.0, "composition": 3600.0}

PROFILES: dict[str, Profile] = {
    "default": Profile(name="default", retries=2, stage_timeout=_DEFAULT_TIMEOUTS, run_timeout=6 * 3600,
                       ffmpeg_timeout=600),
    "debug": Profile(name="debug", retries=2, stage_timeout={k: v * 4 for k, v in _DEFAULT_TIMEOUTS.items()},
                     run_timeout=24 * 3600, ffmpeg_timeout=2400, keep_temp=True, log_level="DEBUG"),
    "quick-demo": Profile(name="quick-demo", retries=1,
                          stage_timeout={"brief": 30, "script": 60, "voice": 120, "visuals": 300, "composition": 600},
                          run_timeout=900, ffmpeg_timeout=300, template_on_invalid_script=True),
}


def active_profile() -> Profile:
    """The profile named by AURA_PROFILE (default `default`)."""
    name = get_settings().profile
    if name not in PROFILES:
        raise ConfigurationError(f"unknown profile {name!r}: set AURA_PROFILE to one of {', '.join(PROFILES)}")
    return PROFILES[name]
