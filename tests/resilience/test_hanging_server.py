"""A vendor that accepts the connection and never answers: client timeout, Prefect retries, then the
configured fallback, and a run that finishes "degraded" and says so in the result, the CLI summary and
the Prefect UI (the run's metrics artifact)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
from rich.console import Console

from flows.make_video import make_video
from providers.media.streams import probe
from providers.settings import get_settings
from tasks.runtime.artifacts import METRICS_KEY
from tasks.schemas import Brief, Providers, RenderSpec, Video
from tests.fakes.openai_server import FakeOpenAI
from tests.resilience.conftest import topic

CHAT = "/chat/completions"
LLM = "openai:gpt-4o-mini"
TIMEOUT = 1.0


def test_hanging_llm_times_out_is_retried_then_falls_back_and_the_run_is_degraded(
        openai_fake: FakeOpenAI, env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # a server at OPENAI_BASE_URL counts as one's own, so the local-LLM timeout applies to it
    env.setenv("AURA_LOCAL_LLM_TIMEOUT", str(TIMEOUT))
    env.setenv("AURA_LLM_TIMEOUT", str(TIMEOUT))
    env.setenv("AURA_FALLBACK_LLM", "local")
    get_settings.cache_clear()
    openai_fake.mode = "hang"
    out = tmp_path / "videos" / "bees.mp4"

    state = make_video(brief=Brief(topic=topic("hang"), duration=10, density="sparse"),
                       render=RenderSpec(resolution="360p", fps=24, quality="draft"),
                       providers=Providers(llm=LLM), out=str(out), return_state=True)
    video: Video = state.result()

    # three attempts (the default profile's 2 retries), each cut by the client's timeout, then `local`
    assert openai_fake.count(CHAT) == 3
    waits = openai_fake.gaps(CHAT)  # timeout + backoff: 1 + 1 s, then 1 + 2 s (±20 %)
    assert TIMEOUT + 0.8 <= waits[0] <= TIMEOUT + 1.2 + 1.5, waits
    assert TIMEOUT + 1.6 <= waits[1] <= TIMEOUT + 2.4 + 1.5, waits
    script = video.metrics["script"]
    assert script.retries == 2 and script.provider == LLM
    reason = video.degraded["script"]
    assert reason == f"{LLM}: OpenAI did not answer in time (timeout) (after retries)"
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
