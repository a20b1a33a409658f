"""The Prefect server behind `aura`: a temporary one dies with its command whatever kills it, and
`aura server start|status|stop` keeps one running that later commands use.

Real processes throughout: `python -m studio.cli`, the server child, SIGKILL; every wait is on a condition.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from tests.resilience.conftest import REPO

TINY = ["--duration", "10", "--resolution", "360p", "--fps", "24", "--quality", "draft", "--density", "sparse"]


def _env(home: Path) -> dict[str, str]:
    (home / "prefect").mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "AURA_HOME": str(home / "aura"), "PREFECT_HOME": str(home / "prefect"),
           "PREFECT_LOCAL_STORAGE_PATH": str(home / "prefect" / "storage"), "PREFECT_PROFILES_PATH":
           str(home / "prefect" / "profiles.toml")}
    for name in ("PREFECT_API_URL", "AURA_PROFILE", "OPENAI_API_KEY"):
        env.pop(name, None)
    return env


def _servers_under(pid: int) -> list[psutil.Process]:
    try:
        children = psutil.Process(pid).children(recursive=True)
        return [p for p in children if "studio.local_server" in " ".join(p.cmdline())]
    except psutil.Error:
        return []


def _gone(procs: list[psutil.Process], timeout: float = 60.0) -> list[psutil.Process]:
    """The processes of `procs` still alive after waiting up to `timeout` seconds for them to end."""
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    return alive


_HOLDER = """
import sys, time
from pathlib import Path
from studio.local_server import TemporaryServer
server = TemporaryServer(Path(sys.argv[1]))
print(server.process.pid, flush=True)
if sys.argv[2] == "ready":
    server.wait_ready()
    print("ready", flush=True)
time.sleep(600)
"""


@pytest.mark.parametrize("when", ["starting", "ready"])
def test_a_temporary_server_dies_with_its_sigkilled_parent(tmp_path: Path, when: str) -> None:
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(tmp_path / "server.log"), when], cwd=REPO,
                              env=_env(tmp_path), stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None
        server = psutil.Process(int(holder.stdout.readline()))
        if when == "ready":
            assert holder.stdout.readline().strip() == "ready"
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    alive = _gone([server])
    assert alive == [], f"the temporary server outlived its parent: {server.pid}"


def _is_server(process: psutil.Process) -> bool:
    """Whether `process` is Aura's temporary Prefect server; one that has ended already is not."""
    try:
        return "studio.local_server" in " ".join(process.cmdline())
    except psutil.Error:
        return False


def _is_ffmpeg(process: psutil.Process) -> bool:
    """Whether `process` is an ffmpeg; one that has ended already is not."""
    try:
        return "ffmpeg" in process.name() or "ffmpeg" in " ".join(process.cmdline())
    except psutil.Error:
        return False


@pytest.mark.e2e
def test_sigkill_of_aura_generate_leaves_no_server_or_ffmpeg(tmp_path: Path) -> None:
    run = subprocess.Popen([sys.executable, "-m", "studio.cli", "generate", "How honeybees communicate (killed)",
                            *TINY, "--out", str(tmp_path / "v.mp4")], cwd=REPO, env=_env(tmp_path),
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    family: dict[int, psutil.Process] = {}
    servers: set[int] = set()
    try:
        deadline = time.monotonic() + 300
        # kill it mid-run: once its server answered and the flow has started work of its own
        while not any(_is_ffmpeg(p) for p in family.values()):
            assert run.poll() is None, run.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "the run never started ffmpeg"
            with contextlib.suppress(psutil.Error):
                for child in psutil.Process(run.pid).children(recursive=True):
                    family.setdefault(child.pid, child)
                    if _is_server(child):
                        servers.add(child.pid)
            time.sleep(0.02)
        # counted while it ran: a tiny render can finish (and stop its server) by the time ffmpeg is noticed
        assert servers, "no temporary server under aura generate"
    finally:
        run.kill()
        run.wait()
    alive = _gone(list(family.values()))
    assert alive == [], f"left running after SIGKILL: {[(p.pid, p.name()) for p in alive]}"


def _aura(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "studio.cli", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


@pytest.mark.e2e
def test_aura_server_start_is_used_by_later_commands_and_stops(tmp_path: Path) -> None:
    env = _env(tmp_path)
    state = tmp_path / "prefect" / "aura-server.json"
    assert _aura(env, "server", "status").returncode == 1
    try:
        started = _aura(env, "server", "start", "--port", "0")
        assert started.returncode == 0, started.stderr
        pid = json.loads(state.read_text())["pid"]
        server = psutil.Process(pid)
        assert os.getsid(pid) != os.getsid(0)  # its own session: a terminal's Ctrl-C does not reach it
        status = _aura(env, "server", "status")
        assert status.returncode == 0 and status.stdout.strip().startswith("http://127.0.0.1:")
        assert _aura(env, "server", "start", "--port", "0").returncode == 0
        assert json.loads(state.read_text())["pid"] == pid  # the running one is reused, not a second started

        made = _aura(env, "generate", "How honeybees communicate (server)", *TINY, "--out", str(tmp_path / "v.mp4"),
                     "--json")
        assert made.returncode == 0, made.stderr[-3000:]
        assert json.loads(made.stdout)["path"] == str(tmp_path / "v.mp4")
        assert not (tmp_path / "prefect" / "aura-temporary-server.log").exists()  # no server of its own
        assert server.is_running()  # and it stays after the command
        # quiet success: nothing but progress and the summary on the terminal, no warning in the run's log
        for noise in ("Traceback", "Timeout of", "Error flushing", "database is locked", "WARNING"):
            assert noise not in made.stderr
        url = status.stdout.strip()
        with httpx.Client(base_url=url, timeout=30) as client:
            logs = client.post("/logs/filter", json={"logs": {"level": {"ge_": 30}}, "limit": 50}).json()
        assert [entry["message"][:200] for entry in logs] == []
    finally:
        stopped = _aura(env, "server", "stop")
    assert stopped.returncode == 0 and "stopped" in stopped.stderr
    assert _gone([server], timeout=30) == []
    assert _aura(env, "server", "status").returncode == 1 and not state.exists()
