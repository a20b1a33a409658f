"""The Prefect API an `aura` command talks to: a running one when there is one, else a temporary one of our own.

- A server the user configured (PREFECT_API_URL in the environment or the active Prefect profile) is used as is.
- `aura server start` keeps one running between commands (`start_persistent`): a detached process in its own
  session, its address in PREFECT_HOME/aura-server.json, its log in PREFECT_HOME/aura-server.log; every later
  command finds it (`running_url`) and skips the seconds a server takes to start. `aura server stop` ends it.
- Otherwise each command (and `aura serve`) runs a temporary server as its own child (`TemporaryServer`),
  instead of Prefect's ephemeral one, so that it can never outlive the command: the child asks the kernel for
  SIGTERM when its parent dies (PR_SET_PDEATHSIG) and also watches its parent, and the command stops it at
  exit. Its output goes to a log file, so the shutdown noise of Prefect's services never reaches the terminal.

The child is `python -m studio.local_server`: uvicorn serving Prefect's `create_app`, like `prefect server start`
(or like Prefect's own temporary server, with `--temporary`), on a socket the parent bound, so the port is known
before the server is up and no other process can take it in between.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

__all__ = ["ServerInfo", "TemporaryServer", "configured_url", "running_url", "start_persistent", "stop_persistent"]

_STATE = "aura-server.json"
_LOG = "aura-server.log"
_PR_SET_PDEATHSIG = 1


class ServerError(RuntimeError):
    """The server could not be started or stopped; the message says why."""


def prefect_home() -> Path:
    """Prefect's home folder (its database lives there unless configured elsewhere)."""
    return Path(os.environ.get("PREFECT_HOME") or "~/.prefect").expanduser()


def configured_url() -> str | None:
    """PREFECT_API_URL from the environment or the active Prefect profile, without importing Prefect."""
    if os.environ.get("PREFECT_API_URL"):
        return os.environ["PREFECT_API_URL"]
    path = Path(os.environ.get("PREFECT_PROFILES_PATH") or prefect_home() / "profiles.toml")
    try:
        profiles = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return None
    active = os.environ.get("PREFECT_PROFILE") or profiles.get("active") or "ephemeral"
    url = profiles.get("profiles", {}).get(active, {}).get("PREFECT_API_URL")
    return str(url) if url else None


@dataclass(frozen=True)
class ServerInfo:
    """A persistent server Aura started: its process and address."""

    pid: int
    port: int

    @property
    def url(self) -> str:
        """The API's base URL, as PREFECT_API_URL wants it."""
        return f"http://127.0.0.1:{self.port}/api"


def _healthy(url: str, timeout: float = 2.0) -> bool:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"{url}/health", timeout=timeout) as answer:  # noqa: S310 - our own loopback URL
            return bool(answer.status == 200)
    except (OSError, urllib.error.URLError, ValueError):
        return False


def _ours(pid: int) -> bool:
    """Whether `pid` is a live server process started by this module (not a recycled pid)."""
    import psutil

    try:
        proc = psutil.Process(pid)
        return proc.status() != psutil.STATUS_ZOMBIE and "studio.local_server" in " ".join(proc.cmdline())
    except psutil.Error:
        return False


def persistent() -> ServerInfo | None:
    """The persistent server recorded in PREFECT_HOME, if its process still lives."""
    try:
        data = json.loads((prefect_home() / _STATE).read_text())
        info = ServerInfo(pid=int(data["pid"]), port=int(data["port"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return info if _ours(info.pid) else None


def running_url() -> str | None:
    """The API URL every command should use: the configured one, else Aura's persistent server when it answers."""
    url = configured_url()
    if url:
        return url
    info = persistent()
    # generous: `aura server start` waited for it to answer, so a slow answer means a busy machine, not no server
    return info.url if info is not None and _healthy(info.url, timeout=10.0) else None


def _bound_socket(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        sock.close()
        raise ServerError(f"port {port} is taken: choose another with --port") from exc
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _spawn(sock: socket.socket, log: IO[bytes], *, temporary: bool) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "studio.local_server", "--fd", str(sock.fileno())]
    if temporary:
        command += ["--temporary", "--parent", str(os.getpid())]
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    if temporary:  # what Prefect's own temporary server sets: no UI, the ephemeral set of services
        env |= {"PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1"}
    return subprocess.Popen(
        command, pass_fds=(sock.fileno(),), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
        # out of the terminal's process group: Ctrl-C stops the command, which then records the run as
        # crashed on a server still there to hear it, and stops a temporary server itself
        start_new_session=True,
    )


def _wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not _healthy(url, timeout=1.0):
        if process.poll() is not None:
            raise ServerError(f"the Prefect server exited with status {process.returncode}: see {log}")
        if time.monotonic() > deadline:
            raise ServerError(f"the Prefect server did not answer within {timeout:.0f} s: see {log}")
        time.sleep(0.05)


def start_persistent(port: int = 4200, timeout: float = 120.0) -> ServerInfo:
    """Start Aura's persistent server (or return the one already running) and wait until it answers."""
    info = persistent()
    if info is not None and _healthy(info.url):
        return info
    home = prefect_home()
    home.mkdir(parents=True, exist_ok=True)
    sock = _bound_socket(port)
    log_path = home / _LOG
    with sock, log_path.open("ab") as log:
        process = _spawn(sock, log, temporary=False)
        info = ServerInfo(pid=process.pid, port=sock.getsockname()[1])
    state = home / _STATE
    partial = state.with_suffix(".partial")
    partial.write_text(json.dumps({"pid": info.pid, "port": info.port}))
    partial.replace(state)
    try:
        _wait_healthy(info.url, process, timeout, log_path)
    except ServerError:
        stop_persistent()
        raise
    return info


def stop_persistent(timeout: float = 15.0) -> ServerInfo | None:
    """Stop Aura's persistent server; the one stopped, or None when none was running."""
    import psutil

    info = persistent()
    (prefect_home() / _STATE).unlink(missing_ok=True)
    if info is None:
        return None
    try:
        proc = psutil.Process(info.pid)
        proc.terminate()
        try:
            proc.wait(timeout)
        except psutil.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    except psutil.NoSuchProcess:
        pass
    return info


class TemporaryServer:
    """A Prefect server for one command, a child that dies with it (see the module's docstring)."""

    def __init__(self, log_path: Path, port: int = 0, append: bool = False) -> None:
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._sock = _bound_socket(port)
        self.port: int = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/api"
        # by default the last command's server only: it is there to read when one failed
        with log_path.open("ab" if append else "wb") as log:
            self.process: subprocess.Popen[bytes] | None = _spawn(self._sock, log, temporary=True)
        self._sock.close()  # the child holds it now

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Block until the server answers (it starts while the caller imports the flow)."""
        assert self.process is not None
        _wait_healthy(self.url, self.process, timeout, self.log_path)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server cleanly (it finishes writing what runs reported), killing it after `timeout`."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# ------------------------------------------------------------------------------------------------
# the server process


def _die_with_parent(parent: int) -> None:
    """SIGTERM from the kernel the moment the parent dies (Linux), and a watchdog for everywhere else."""
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.2)
        os.kill(os.getpid(), signal.SIGTERM)  # a clean shutdown first,
        time.sleep(10)
        os._exit(0)  # and gone for sure

    if os.getppid() != parent:  # the parent died before we got here
        os._exit(0)
    threading.Thread(target=watch, name="aura-parent-watch", daemon=True).start()


def main(argv: list[str] | None = None) -> None:
    """Serve Prefect's API (and UI, unless temporary) on an inherited socket until SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m studio.local_server")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--temporary", action="store_true")
    parser.add_argument("--parent", type=int)
    args = parser.parse_args(argv)
    if args.parent:
        _die_with_parent(args.parent)
    import uvicorn
    from prefect.server.api.server import create_app

    app: Any = create_app(final=True, ephemeral=args.temporary)
    config = uvicorn.Config(app, log_level="error", lifespan="on", timeout_graceful_shutdown=3)
    # Not `fd=`: uvicorn takes an inherited fd for a Unix socket, so asyncio would leave Nagle on for every
    # connection and each keep-alive response would wait ~40 ms for a delayed ACK. This socket knows it is TCP.
    uvicorn.Server(config).run(sockets=[socket.socket(fileno=args.fd)])


if __name__ == "__main__":
    main()
