"""`aura serve`: uvicorn with the API, a Prefect server and a runner."""

from __future__ import annotations

import logging
import os
import re
import socket
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from studio.local_server import TemporaryServer

__all__ = ["PrefectServer", "RedactTokens", "bind", "run_server", "uvicorn_config"]

log = logging.getLogger("aura.api")


def bind(host: str, port: int) -> socket.socket:
    """A listening-ready socket on host:port (port 0: a free one), bound before anything else starts."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise SystemExit(f"error: cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


class PrefectServer:
    """The Prefect API `aura serve` uses: PREFECT_API_URL, else `aura server start`'s, else a temporary one it keeps up.

    The temporary server is `studio.local_server`'s, as for every `aura` command: in its own session, so a
    terminal's Ctrl-C reaches `aura serve` alone, which cancels its jobs on a server still there to record it
    and then stops the server. If the server dies, a new one starts on the same port, so the API, the runner
    and the jobs' processes reconnect to the same URL.
    """

    def __init__(self, log_path: Path, check_seconds: float = 2.0, start_timeout: float = 180) -> None:
        self.log_path = log_path
        self.check_seconds = check_seconds
        self.start_timeout = start_timeout  # a fresh database takes a while on a busy 2-core machine
        self._server: TemporaryServer | None = None
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    def start(self) -> str:
        """The API URL; with none configured or running, start a temporary server now (after our port is bound)."""
        from prefect.settings import PREFECT_API_URL

        from studio.local_server import TemporaryServer, running_url

        url = PREFECT_API_URL.value() or running_url()
        if url:
            return str(url)
        self._server = TemporaryServer(self.log_path)
        self._server.wait_ready(self.start_timeout)
        self._watcher = threading.Thread(target=self._watch, name="prefect-server-watch", daemon=True)
        self._watcher.start()
        return self._server.url

    def _watch(self) -> None:
        from studio.local_server import TemporaryServer

        while not self._stop.wait(self.check_seconds):
            server = self._server
            process = server.process if server is not None else None
            if server is None or process is None or process.poll() is None or self._stop.is_set():
                continue
            log.error("the Prefect server exited (status %s); starting it again", process.returncode)
            try:
                # started from this thread, the new server gets its parent-death signal when this thread ends:
                # that is at stop(), which stops the server anyway
                self._server = TemporaryServer(self.log_path, port=server.port, append=True)
                self._server.wait_ready(self.start_timeout)
            except Exception as exc:  # noqa: BLE001 - keep trying; /healthz answers 503 meanwhile
                log.error("could not restart the Prefect server: %s (see %s)", exc, self.log_path)

    def stop(self) -> None:
        """Stop the temporary server, if this process started one."""
        self._stop.set()
        if self._server is not None:
            self._server.stop()


class RedactTokens(logging.Filter):
    """Keep job link tokens out of the access log."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_TOKEN.sub(r"\1REDACTED", a) if isinstance(a, str) else a for a in record.args)
        return True


_TOKEN = re.compile(r"(token=)[0-9a-fA-F]+")


def _log_config(level: str) -> dict[str, Any]:
    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = {**LOGGING_CONFIG, "loggers": dict(LOGGING_CONFIG["loggers"]),
                              "handlers": {k: dict(v) for k, v in LOGGING_CONFIG["handlers"].items()}}
    config["filters"] = {"redact": {"()": RedactTokens}}
    config["handlers"]["access"]["filters"] = ["redact"]
    config["loggers"]["aura"] = {"handlers": ["default"], "level": level.upper(), "propagate": False}
    return config


def uvicorn_config(app: Any, log_level: str = "info", **extra: Any) -> Any:
    """uvicorn's settings for the API: forwarded headers are believed only from AURA_API_TRUSTED_PROXIES."""
    import uvicorn

    trusted = app.state.settings.trusted_proxies.strip()
    return uvicorn.Config(app, log_level=log_level, proxy_headers=bool(trusted), forwarded_allow_ips=trusted or None,
                          **extra)


LOOPBACK = ("127.0.0.1", "::1", "localhost")


def run_server(host: str = "127.0.0.1", port: int = 8000, log_level: str = "info", allow_open: bool = False) -> None:
    """Serve the API and the web page with a Prefect server and a runner until Ctrl-C; all of it stops with us.

    Refuses to listen beyond this machine without API keys unless `allow_open` says so.
    """
    from studio.api import ApiSettings, create_app
    from studio.runner import JobRunner
    from tasks.runtime.cancellation import children_die_with_me

    settings = ApiSettings()
    if host not in LOOPBACK and not settings.key_list() and not allow_open:
        raise SystemExit(f"error: refusing to listen on {host} without an API key: anyone who can reach it could "
                         "start renders. Set AURA_API_KEYS=<a long random key> (clients send it as X-API-Key), "
                         "or pass --allow-open to serve without keys anyway")
    children_die_with_me()  # the Prefect server, the runner's jobs and their ffmpeg never outlive this process
    sock = bind(host, port)
    port = sock.getsockname()[1]
    # Prefect configures logging when `prefect.main` is first imported, resetting uvicorn's loggers:
    # let it happen now, before uvicorn applies its own configuration
    import prefect.main  # noqa: F401

    from studio.local_server import prefect_home

    prefect_server = PrefectServer(prefect_home() / "aura-serve-server.log")
    runner: JobRunner | None = None
    try:
        prefect_url = prefect_server.start()
        os.environ["PREFECT_API_URL"] = prefect_url  # the runner's job processes talk to this server too
        # the jobs' video artifacts link to the API's download URL (tasks/runtime/artifacts.video_url); set
        # AURA_PUBLIC_URL yourself when the API is reached through a proxy or another name
        public = "127.0.0.1" if host in ("0.0.0.0", "::") else (f"[{host}]" if ":" in host else host)
        os.environ.setdefault("AURA_PUBLIC_URL", f"http://{public}:{port}")
        if not settings.deployment:
            runner = JobRunner(limit=settings.max_jobs)
            runner.start()
        app = create_app(settings)
        shown = f"[{host}]" if ":" in host else host
        print(f"Aura Studio on http://{shown}:{port}  (Prefect API {prefect_url}, jobs run by "
              f"{'this server' if runner else 'the workers of'} {app.state.manager.deployment})",
              file=sys.stderr, flush=True)
        if host not in LOOPBACK and not settings.key_list():
            print("warning: listening beyond this machine without API keys (--allow-open)", file=sys.stderr, flush=True)
        config = uvicorn_config(app, log_level, log_config=_log_config(log_level), timeout_graceful_shutdown=3)
        import uvicorn

        uvicorn.Server(config).run(sockets=[sock])
    finally:
        if runner is not None:
            runner.stop()  # cancels the jobs in progress: their processes end with the server
        prefect_server.stop()
