"""Run profiles are read when a run starts, from its environment: never frozen at import."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prefect import flow, task

from providers.errors import TransientError
from providers.settings import get_settings
from tasks.runtime.profiles import DEFAULT_RETRIES, PROFILES, ffmpeg_timeout, profiled
from tasks.runtime.retry import retry_transient

ATTEMPTS: list[int] = []


@task(retry_delay_seconds=0, retry_condition_fn=retry_transient)
def always_busy() -> None:
    """A stage call whose vendor answers 503 every time."""
    ATTEMPTS.append(1)
    raise TransientError("HTTP 503 from a busy vendor")


@flow
def one_stage() -> None:
    """A flow built like make_video: the task gets the profile's retries when the run starts."""
    profiled(always_busy)(return_state=True)


@pytest.fixture
def profile(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Switch AURA_PROFILE (and AURA_FFMPEG_TIMEOUT) after every module here was imported."""
    monkeypatch.delenv("AURA_FFMPEG_TIMEOUT", raising=False)
    get_settings.cache_clear()
    ATTEMPTS.clear()
    yield monkeypatch
    get_settings.cache_clear()


@pytest.mark.parametrize("name", ["default", "quick-demo"])
def test_a_run_tries_as_often_as_the_profile_it_starts_under(profile: pytest.MonkeyPatch, name: str) -> None:
    profile.setenv("AURA_PROFILE", name)
    get_settings.cache_clear()
    one_stage()
    assert len(ATTEMPTS) == 1 + PROFILES[name].retries


def test_the_stage_tasks_take_their_retries_from_the_profile(profile: pytest.MonkeyPatch) -> None:
    from tasks.compose import render_segment
    from tasks.script import write_script
    from tasks.voice import synthesize_narration

    profile.setenv("AURA_PROFILE", "quick-demo")
    get_settings.cache_clear()
    assert [profiled(t).retries for t in (write_script, synthesize_narration, render_segment)] == [1, 1, 1]
    profile.setenv("AURA_PROFILE", "debug")
    get_settings.cache_clear()
    assert profiled(write_script).retries == 2
    assert write_script.retries == DEFAULT_RETRIES  # called on its own, a task tries as a default run does


def test_ffmpeg_timeout_follows_the_profile_unless_set(profile: pytest.MonkeyPatch) -> None:
    profile.setenv("AURA_PROFILE", "debug")
    get_settings.cache_clear()
    assert ffmpeg_timeout() == 2400
    profile.setenv("AURA_FFMPEG_TIMEOUT", "45")
    get_settings.cache_clear()
    assert ffmpeg_timeout() == 45


def test_script_time_limit_names_the_running_profile(profile: pytest.MonkeyPatch) -> None:
    from tasks.script import script_time_limit

    profile.setenv("AURA_PROFILE", "quick-demo")
    get_settings.cache_clear()
    seconds, advice = script_time_limit()
    assert seconds == 0.8 * PROFILES["quick-demo"].script_timeout
    assert "quick-demo profile" in advice
