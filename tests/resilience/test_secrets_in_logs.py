"""Defect 13.6: a vendor that quotes the API key in an error body (400 and 500 here) never gets the key into a log
record, Prefect's log table, an error's chain or the console, even with --verbose."""

from __future__ import annotations

import json
import logging
import subprocess
import time
import traceback
from collections.abc import Iterator
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

from flows.make_video import make_video
from providers.settings import get_settings
from tasks.schemas import Brief, Providers, RenderSpec
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.server import Fault
from tests.resilience.conftest import cli, topic

CHAT = "/chat/completions"
SECRET = "hunter2-correct-horse-battery"  # shaped like no known key: only knowing it can scrub it


def _echoing(status: int) -> Fault:
    """An error answer that quotes the key back, as some vendors and proxies do."""
    body = {"error": {"message": f"Invalid request for key {SECRET}: try again", "type": "invalid_request_error",
                      "param": None, "code": None}, "echo": {"authorization": f"Bearer {SECRET}"}}
    return Fault(status=status, body=json.dumps(body).encode())


@pytest.fixture
def leaky(openai_fake: FakeOpenAI, env: pytest.MonkeyPatch) -> Iterator[FakeOpenAI]:
    """The fake OpenAI server with SECRET as its key, answering chat with key-quoting errors."""
    openai_fake.key = SECRET
    env.setenv("OPENAI_API_KEY", SECRET)
    get_settings.cache_clear()
    yield openai_fake
    del openai_fake.key


class _Everything(logging.Handler):
    """Every record that reaches a logger, formatted with its traceback, as a console handler would."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.mark.parametrize("status", [400, 500])
def test_a_key_quoted_by_the_vendor_reaches_no_log_or_error(leaky: FakeOpenAI, tmp_path: Path, status: int) -> None:
    leaky.script(*[_echoing(status)] * 6, path=CHAT)
    handler = _Everything()
    watched = [logging.getLogger(name) for name in ("", "prefect", "prefect.flow_runs", "prefect.task_runs",
                                                    "openai", "httpx")]
    levels = [logger.level for logger in watched]
    for logger in watched:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    try:
        state = make_video(brief=Brief(topic=topic(f"leak {status}"), duration=10, density="sparse"),
                           render=RenderSpec(resolution="360p", fps=24, quality="draft"),
                           providers=Providers(llm="openai:gpt-4o-mini"), out=str(tmp_path / "v.mp4"),
                           return_state=True)
    finally:
        for logger, level in zip(watched, levels, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)
    assert state.is_failed() and leaky.count(CHAT) >= 2  # the vendor was asked and answered with the key
    error = state.result(raise_on_failure=False)
    told = "".join(traceback.format_exception(error))  # the error with its whole chain, as a traceback shows it
    assert f"HTTP {status}" in told and "Invalid request for key ***" in told
    assert SECRET not in told
    logged = "\n".join(handler.lines)
    assert f"HTTP {status}" in logged and "Traceback" in logged  # the failure was logged with its traceback ...
    assert SECRET not in logged  # ... but never the key

    # the run's log lines reach Prefect's log table in batches, in the background: wait until they are there
    deadline = time.monotonic() + 60
    with get_client(sync_client=True) as client:
        while True:
            logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(
                any_=[state.state_details.flow_run_id])))
            if any(f"HTTP {status}" in log.message for log in logs) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    assert logs and all(SECRET not in log.message for log in logs)
    assert not (tmp_path / "v.mp4").exists()


def test_verbose_cli_run_failing_on_a_key_quoting_vendor_never_prints_the_key(
        leaky: FakeOpenAI, cli_env: dict[str, str], tmp_path: Path) -> None:
    leaky.script(*[_echoing(400)] * 6, path=CHAT)
    env = {**cli_env, "OPENAI_API_KEY": SECRET, "OPENAI_BASE_URL": leaky.url, "PREFECT_LOGGING_LEVEL": "DEBUG"}
    out = tmp_path / "v.mp4"
    run = subprocess.run([*cli(topic("leak cli"), "--out", str(out), "--llm", "openai:gpt-4o-mini"),
                          "--verbose"], env=env, capture_output=True, text=True, timeout=300)
    said = run.stdout + run.stderr
    assert run.returncode != 0 and "HTTP 400" in said, said[-3000:]
    assert SECRET not in said
    assert not out.exists()
