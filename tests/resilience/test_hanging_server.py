"""A vendor that accepts the connection and never answers: the client's timeout (per vendor kind; one line
naming the setting to raise), then the configured fallback, and a run that finishes "degraded" and says so in
the result, the CLI summary and the Prefect UI (the run's metrics artifact). Defect 13.5: the timeouts per
kind, and no TaskRunTimeoutError traceback when a profile allows the stage less than the timeout."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
from rich.console import Console

from flows.make_video import make_video
from providers.errors import ConfigurationError
from providers.llm.openai import OpenAIWriter
from providers.llm.openai_compat import OllamaWriter
from providers.media.streams import probe
from providers.settings import get_settings
from tasks.runtime.artifacts import METRICS_KEY
from tasks.schemas import Brief, Providers, RenderSpec, Video
from tasks.script import build_request
from tests.fakes.openai_server import FakeOpenAI
from tests.resilience.conftest import cli, topic

CHAT = "/chat/completions"
LLM = "openai:gpt-4o-mini"
TIMEOUT = 1.0

QUICK_DEMO_HANG = """
import runpy, sys
from tasks.runtime import profiles
quick = profiles.PROFILES["quick-demo"]  # the stage gets 5 s instead of 60: the same path, quicker
profiles.PROFILES["quick-demo"] = quick.model_copy(update={"script_timeout": 5.0})
sys.argv = ["aura", *sys.argv[1:]]
runpy.run_module("studio.cli", run_name="__main__")
"""


def test_hanging_llm_server_of_ones_own_times_out_once_then_falls_back_and_the_run_is_degraded(
        openai_fake: FakeOpenAI, env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # a server at OPENAI_BASE_URL counts as one's own: its timeout applies, and a timeout is not retried (the
    # server is still busy with the request; a retry would queue behind it and wait as long again)
    env.setenv("AURA_LOCAL_LLM_TIMEOUT", str(TIMEOUT))
    env.setenv("AURA_LLM_TIMEOUT", "30")
    env.setenv("AURA_FALLBACK_LLM", "local")
    get_settings.cache_clear()
    openai_fake.mode = "hang"
    out = tmp_path / "videos" / "bees.mp4"

    state = make_video(brief=Brief(topic=topic("hang"), duration=10, density="sparse"),
                       render=RenderSpec(resolution="360p", fps=24, quality="draft"),
                       providers=Providers(llm=LLM), out=str(out), return_state=True)
    video: Video = state.result()

    assert openai_fake.count(CHAT) == 1  # one request cut by the client's timeout, then `local`
    script = video.metrics["script"]
    assert script.retries == 0 and script.provider == LLM
    reason = video.degraded["script"]
    assert reason == (f"{LLM}: OpenAI at {openai_fake.url} did not answer within 1 s (timeout): "
                      "raise AURA_LOCAL_LLM_TIMEOUT (now 1 s) if it needs longer")
    assert set(video.degraded) == {"script"}  # the other stages ran as configured
    assert probe(out).video_codec == "h264" and video.path == out

    # the CLI summary names the stage and the reason
    from studio import cli

    captured = io.StringIO()
    console, cli.err = cli.err, Console(file=captured, width=300, color_system=None)
    try:
        cli._summary(video)
    finally:
        cli.err = console
    assert f"degraded script: {reason}" in captured.getvalue()

    # and so does the Prefect UI: the run's metrics table has a note on the script stage
    flow_run_id = state.state_details.flow_run_id
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])))
    [table] = [a.data for a in artifacts if a.key == METRICS_KEY]
    [row] = [line for line in str(table).splitlines() if line.startswith("| script |")]
    assert "fell back" in row and "timeout" in row, row


def test_a_local_server_slower_than_the_timeout_names_the_setting(openai_fake: FakeOpenAI,
                                                                  env: pytest.MonkeyPatch) -> None:
    env.setenv("AURA_LOCAL_LLM_TIMEOUT", "0.5")
    get_settings.cache_clear()
    openai_fake.mode = "hang"
    writer = OpenAIWriter("gpt-4o-mini")
    with pytest.raises(ConfigurationError) as info:
        writer.write_script(build_request(Brief(topic="How tides work", duration=10)))
    assert str(info.value).endswith("did not answer within 0.5 s (timeout): raise AURA_LOCAL_LLM_TIMEOUT "
                                    "(now 0.5 s) if it needs longer")
    assert openai_fake.count(CHAT) == 1


def test_default_timeouts_differ_by_vendor_kind(env: pytest.MonkeyPatch) -> None:
    for name in ("AURA_LLM_TIMEOUT", "AURA_LOCAL_LLM_TIMEOUT"):
        env.delenv(name)
    env.setenv("OPENAI_API_KEY", "sk-test-not-used-0000")
    get_settings.cache_clear()
    assert OpenAIWriter("gpt-4o-mini").timeout == 120  # hosted: answers in seconds, or is in trouble (retried)
    assert OllamaWriter("llama3.1").timeout == 300  # one's own server: slower, and not retried
    # at most 300 s in all (not 3 x 900 s) before a local writer's stage fails or falls back


def test_quick_demo_on_a_hanging_server_ends_in_one_line_naming_what_to_change(
        openai_fake: FakeOpenAI, cli_env: dict[str, str], tmp_path: Path) -> None:
    openai_fake.mode = "hang"
    env = {**cli_env, "OPENAI_BASE_URL": openai_fake.url, "OPENAI_API_KEY": openai_fake.key}
    out = tmp_path / "v.mp4"
    run = subprocess.run([sys.executable, "-c", QUICK_DEMO_HANG, *cli(topic("quick hang"), "--out", str(out),
                                                                      "--llm", LLM, "--profile", "quick-demo")[3:]],
                         env=env, capture_output=True, text=True, timeout=300)
    said = run.stderr.strip()
    assert run.returncode != 0 and not out.exists()
    assert "TaskRunTimeoutError" not in said and "Traceback" not in said, said[-3000:]
    errors = [line for line in said.splitlines() if "did not answer" in line]
    assert errors and "within 4 s (timeout): the quick-demo profile gives the script 5 s" in errors[-1], said
    assert "--profile default" in errors[-1]
