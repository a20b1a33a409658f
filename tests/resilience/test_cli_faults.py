"""Faults as a user of the `aura` command meets them, in real `python -m studio.cli generate` processes.

- A refused API key: the run fails at once (no retry), the message names the variable to set, and
  nothing is written at the output path.
- Ctrl-C during composition: exit status 130 within a few seconds, no child process left (ffmpeg, the
  temporary API server), no video at the output path, no temporary files; the same command run again
  finishes, taking every finished stage from the cache.

The processes talk to the session's Prefect API (as with a running `prefect server`), except in the
Ctrl-C test's first variant, which starts its own temporary API server like a plain `aura generate`:
a terminal's Ctrl-C reaches that server too, so the run can no longer report to Prefect and the CLI
must not wait for it. SIGKILL of a whole run and its resume is tests/flows/test_resume.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from providers.media.streams import probe
from tests.fakes.openai_server import FakeOpenAI
from tests.resilience.conftest import REPO, cli, ffmpeg_under, partials, processes_mentioning, topic


def test_refused_key_fails_the_run_at_once_naming_the_variable(openai_fake: FakeOpenAI, cli_env: dict[str, str],
                                                               tmp_path: Path) -> None:
    out = tmp_path / "videos" / "bees.mp4"
    wrong = "sk-wrong-0123456789abcdefghij"
    cli_env.update({"OPENAI_API_KEY": wrong, "OPENAI_BASE_URL": openai_fake.url})

    done = subprocess.run(cli(topic("cli-401"), "--llm", "openai:gpt-4o-mini", "--out", str(out)), cwd=REPO,
                          env=cli_env, capture_output=True, text=True, timeout=180)

    assert done.returncode == 1, done.stderr[-3000:]
    assert "error: OpenAI refused the credentials (HTTP 401): check OPENAI_API_KEY" in done.stderr
    assert wrong not in done.stderr + done.stdout and "sk-live" not in done.stderr  # no key echoed
    assert "Traceback" not in done.stderr
    assert openai_fake.count("/chat/completions") == 1  # not retried
    assert not out.exists() and partials(out.parent) == []
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


def _flow_run_state(topic: str) -> str:
    """The state type of the latest make-video flow run for `topic` on the session's API."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(sort=FlowRunSort.START_TIME_DESC, limit=50)
    [latest] = [r for r in runs if (r.parameters.get("brief") or {}).get("topic") == topic][:1]
    assert latest.state is not None
    print(f"flow run {latest.name}: {latest.state.type.value} ({latest.state.message})")
    return str(latest.state.type.value)


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _signal_when_composing(command: list[str], env: dict[str, str], how: str,
                           ) -> tuple[subprocess.Popen[str], str, list[psutil.Process], float]:
    """Run `command`; once its first segment's ffmpeg runs, send Ctrl-C or SIGTERM. The process, its stderr,
    its descendants at that moment, and the seconds it took to exit."""
    run = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while not ffmpeg_under(run.pid, "/segments/"):
            assert run.poll() is None, run.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "composition never started"
            time.sleep(0.01)
        # signal at once: a small segment's ffmpeg can finish within a fraction of a second, and the run is in
        # composition either way
        children = _descendants(run.pid)
        if how == "ctrl-c":
            os.killpg(run.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole foreground group
        else:
            os.kill(run.pid, signal.SIGTERM)  # what `kill`, systemd or a stopping container does: the CLI only
        sent = time.monotonic()
        _, stderr = run.communicate(timeout=60)
        return run, stderr, children, time.monotonic() - sent
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()


@pytest.mark.e2e
@pytest.mark.parametrize(("api", "how"), [("temporary-server", "ctrl-c"), ("running-server", "ctrl-c"),
                                          ("temporary-server", "sigterm")])
def test_ctrl_c_or_sigterm_during_composition_stops_everything_and_the_rerun_resumes(
        api: str, how: str, cli_env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "videos" / "bees.mp4"
    runs = Path(cli_env["AURA_HOME"]) / "runs"
    first_env = dict(cli_env)
    if api == "temporary-server":
        del first_env["PREFECT_API_URL"]
    subject = topic(f"{how}-{api}")
    command = cli(subject, "--out", str(out))
    run, stderr, children, latency = _signal_when_composing(command, first_env, how)
    print(f"\n{how} ({api}): exit {run.returncode} after {latency:.2f} s; {len(children)} children at the time")
    assert run.returncode == (130 if how == "ctrl-c" else 143), stderr[-3000:]
    assert "cancelled: no video was written; run the same command again to resume" in stderr
    assert "Traceback" not in stderr
    _, alive = psutil.wait_procs(children, timeout=30)  # returns as soon as they are gone
    assert alive == [], f"children left after {how}: {[(p.pid, p.name()) for p in alive]}"
    assert processes_mentioning(str(tmp_path)) == []  # nothing of this run anywhere, orphans included
    assert not out.exists()
    if api == "running-server":  # the run could report: Prefect shows it as crashed, not as still running
        assert _flow_run_state(subject) in ("CRASHED", "CANCELLED", "FAILED")
    assert partials(out.parent, runs) == []

    again = subprocess.run([*command, "--json"], cwd=REPO, env=cli_env, capture_output=True, text=True,
                           timeout=240)
    assert again.returncode == 0, again.stderr[-3000:]
    video = json.loads(again.stdout)
    cached = {stage: m["cached"] for stage, m in video["metrics"].items()}
    # resumed: what finished before Ctrl-C came from the cache; the interrupted composition ran again
    assert cached["script"] and cached["voice"] and cached["visuals"] and not cached["composition"], cached
    assert probe(out).video_codec == "h264"


@pytest.mark.e2e
def test_sigterm_stops_a_batch_and_the_rerun_renders_what_is_missing(cli_env: dict[str, str],
                                                                      tmp_path: Path) -> None:
    briefs = tmp_path / "briefs.yaml"
    briefs.write_text(f"- topic: {topic('batch-a')}\n  duration: 10\n  density: sparse\n"
                      f"- topic: {topic('batch-b')}\n  duration: 10\n  density: sparse\n", encoding="utf-8")
    videos = Path(cli_env["AURA_HOME"]) / "videos"
    command = [sys.executable, "-m", "studio.cli", "batch", str(briefs), "--resolution", "360p", "--fps", "24",
               "--quality", "draft", "--concurrency", "2"]
    run, stderr, children, _ = _signal_when_composing(command, cli_env, "sigterm")
    assert run.returncode == 143, stderr[-3000:]
    assert "cancelled: run the same command again to render what is missing" in stderr
    assert "Traceback" not in stderr
    _, alive = psutil.wait_procs(children, timeout=30)
    assert alive == [], f"children left: {[(p.pid, p.name()) for p in alive]}"
    assert processes_mentioning(str(tmp_path)) == []
    finished = sorted(videos.glob("*.mp4")) if videos.exists() else []
    for video in finished:  # on a slow machine one video may have finished first: whole, never half-written
        assert probe(video).video_codec == "h264"
    assert partials(videos, Path(cli_env["AURA_HOME"]) / "runs") == []

    again = subprocess.run([*command, "--json"], cwd=REPO, env=cli_env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    summary = json.loads(again.stdout)
    statuses = [item["status"] for item in summary["items"]]
    assert statuses.count("done earlier") == len(finished) and statuses.count("rendered") == 2 - len(finished)
    assert len(list(videos.glob("*.mp4"))) == 2
