"""`aura serve` as a process: it outlives its Prefect server's death, and nothing it started outlives it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psutil
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[2]
TINY = {"brief": "How honeybees communicate", "durationSeconds": 60,
        "options": {"resolution": "360p", "fps": 24, "quality": "draft", "density": "sparse"}}


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout:.0f} s waiting for {what}"
        time.sleep(0.2)


def healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def aura_serve(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`aura serve` on a free port with its own Prefect server (no PREFECT_API_URL) and a fresh home."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "AURA_"))}
    env |= {"PREFECT_HOME": str(tmp_path / "prefect"), "AURA_HOME": str(tmp_path / "aura"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1",
            "AURA_API_RATE_PER_MINUTE": "0", "AURA_API_GENERATE_PER_MINUTE": "0"}
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen([sys.executable, "-m", "studio.cli", "serve", "--port", str(port)], cwd=ROOT,
                              env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: healthy(base) or server.poll() is not None, 240, "aura serve to answer")
        assert server.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
        yield server, base
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
        server.wait()
        log.close()


def family(pid: int) -> list[psutil.Process]:
    return psutil.Process(pid).children(recursive=True)


def prefect_servers(pid: int) -> list[psutil.Process]:
    found = []
    for process in family(pid):
        try:
            if "studio.local_server" in " ".join(process.cmdline()):
                found.append(process)
        except psutil.Error:  # ended meanwhile, or a zombie until its parent reaps it
            continue
    return found


def all_gone(procs: list[psutil.Process]) -> bool:
    return all(not p.is_running() or p.status() == psutil.STATUS_ZOMBIE for p in procs)


def test_the_api_outlives_its_prefect_server_and_nothing_outlives_a_sigkill(tmp_path: Path) -> None:
    with aura_serve(tmp_path) as (server, base):
        [prefect] = prefect_servers(server.pid)
        prefect.kill()  # defect: every endpoint answered 503 for good
        # the new server listens on the same port at once (the socket is bound before it starts), so requests
        # meanwhile wait for it rather than fail
        wait_for(lambda: [p.pid for p in prefect_servers(server.pid)] not in ([], [prefect.pid]), 60,
                 "a new Prefect server")
        wait_for(lambda: healthy(base), 180, "the Prefect server to answer again")
        answers: list[httpx.Response] = []

        def accepted() -> bool:  # the runner polls again once it has noticed the new server
            answers.append(httpx.post(f"{base}/api/videos/generate", json=TINY, timeout=60))
            assert answers[-1].status_code in (202, 503), answers[-1].text
            return answers[-1].status_code == 202

        wait_for(accepted, 180, "the API to take jobs again")
        created = answers[-1]
        job = created.json()["jobId"]
        wait_for(lambda: httpx.get(f"{base}/api/videos/{job}/status", timeout=30).json()["status"] == "running",
                 180, "the job to run")
        started = family(server.pid)
        assert len(started) >= 3  # the Prefect server, the guardian, the job's process (and its ffmpeg)
        server.send_signal(signal.SIGKILL)  # defect: the Prefect server and the jobs were orphaned
        server.wait()
        wait_for(lambda: all_gone(started), 30, "every process aura serve started to end")


def running_job(base: str) -> str:
    """A new job's id, once its process runs."""
    created = httpx.post(f"{base}/api/videos/generate", json=TINY, timeout=60)
    assert created.status_code == 202, created.text
    job = str(created.json()["jobId"])
    wait_for(lambda: httpx.get(f"{base}/api/videos/{job}/status", timeout=30).json()["status"] == "running",
             180, "the job to run")
    return job


def test_sigterm_stops_aura_serve_and_everything_it_started(tmp_path: Path) -> None:
    with aura_serve(tmp_path) as (server, base):
        running_job(base)
        started = family(server.pid)
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=60) is not None
        wait_for(lambda: all_gone(started), 30, "every process aura serve started to end")


def test_ctrl_c_stops_aura_serve_quietly_and_a_restart_tells_how_its_job_ended(tmp_path: Path) -> None:
    """A terminal's Ctrl-C reaches the whole foreground group: the Prefect server (in a session of its own)
    outlives the runner's shutdown, so nothing prints a traceback; the job is recorded as ended, and the
    next `aura serve` answers for it (a crashed job once got a 500)."""
    with aura_serve(tmp_path) as (server, base):
        job = running_job(base)
        started = family(server.pid)
        os.killpg(server.pid, signal.SIGINT)
        assert server.wait(timeout=120) in (0, 130)  # 130: 128 + SIGINT, as a shell reports a Ctrl-C
        wait_for(lambda: all_gone(started), 30, "every process aura serve started to end")
    output = (tmp_path / "serve.log").read_text()
    assert "Traceback" not in output and "Error" not in output, output[-3000:]
    with aura_serve(tmp_path) as (_, base):
        status = httpx.get(f"{base}/api/videos/{job}/status", timeout=30)
        assert status.status_code == 200, status.text
        assert status.json()["status"] in ("failed", "cancelled") and status.json()["error"], status.text
