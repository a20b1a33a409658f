"""Run profiles: how hard Aura tries and how long it waits, chosen with AURA_PROFILE (or --profile).

| profile | retries per task | the script writer's time | one ffmpeg call | an invalid LLM script |
|---|---|---|---|---|
| default | 2 | 900 s | 600 s | fails the run |
| debug | 2 | 3,600 s | 2,400 s | fails the run |
| quick-demo | 1 | 60 s | 300 s | falls back to the template writer |

The profile is read when a run starts, from the environment of the process that runs it (a CLI command,
a runner's flow-run process): the flow gives its tasks the profile's retries with `profiled`, and the
script task reads its time limit inside. It is not a flow parameter and not part of a job's identity. The
task decorators carry the default profile's retries (`DEFAULT_RETRIES`, a constant), so that a task called
on its own, outside the flow, tries as hard as a default run does.

No stage has a Prefect task timeout: Prefect enforces `timeout_seconds` only in the thread that runs the
flow, and per-scene tasks run in the task runner's threads, where a timeout cannot interrupt a blocking
call (a TTS request, an ffmpeg render) and only warns on every run. Each call is bounded where it blocks
instead: the writer's and vendors' request timeouts and the ffmpeg timeout, which kills the process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ParamSpec, TypeVar

from pydantic import BaseModel, ConfigDict

from providers.errors import ConfigurationError
from providers.settings import get_settings

if TYPE_CHECKING:  # the CLI reads the profile names before a run: importing Prefect would cost it a second
    from prefect import Task

__all__ = ["DEFAULT_RETRIES", "PROFILES", "Profile", "active_profile", "ffmpeg_timeout", "profiled"]

P = ParamSpec("P")
R = TypeVar("R")


class Profile(BaseModel):
    """Retries, time limits and leniency for one kind of run."""

    model_config = ConfigDict(frozen=True)

    name: str
    retries: int
    script_timeout: float
    ffmpeg_timeout: float
    template_on_invalid_script: bool = False


PROFILES: dict[str, Profile] = {
    "default": Profile(name="default", retries=2, script_timeout=900, ffmpeg_timeout=600),
    "debug": Profile(name="debug", retries=2, script_timeout=3600, ffmpeg_timeout=2400),
    "quick-demo": Profile(name="quick-demo", retries=1, script_timeout=60, ffmpeg_timeout=300,
                          template_on_invalid_script=True),
}

DEFAULT_RETRIES = PROFILES["default"].retries


def active_profile() -> Profile:
    """The profile named by AURA_PROFILE (default `default`)."""
    name = get_settings().profile
    if name not in PROFILES:
        raise ConfigurationError(f"unknown profile {name!r}: set AURA_PROFILE to one of {', '.join(PROFILES)}")
    return PROFILES[name]


def profiled(task: Task[P, R]) -> Task[P, R]:
    """`task` with the active profile's retries, for this run."""
    return task.with_options(retries=active_profile().retries)


def ffmpeg_timeout() -> float:
    """Seconds before one ffmpeg call is killed: AURA_FFMPEG_TIMEOUT, else the profile's."""
    return get_settings().ffmpeg_timeout or active_profile().ffmpeg_timeout
