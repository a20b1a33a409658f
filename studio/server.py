"""Serve the API and the web page with uvicorn: `aura serve`, and a server in a thread for tests."""

from __future__ import annotations

import contextlib
import logging
import re
import socket
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

__all__ = ["RedactTokens", "bind", "ensure_prefect_api", "run_server", "running_server"]

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


def ensure_prefect_api() -> str:
    """The Prefect API URL in use; without PREFECT_API_URL, start the local (ephemeral) Prefect server now.

    Starting it here, after our port is bound, keeps it off that port, and the job processes all
    talk to this one server instead of each starting their own.
    """
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    if url:
        return str(url)
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()
    server.start()
    return str(server.api_url)


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


def run_server(host: str = "127.0.0.1", port: int = 8000, log_level: str = "info") -> None:
    """Serve the API and the web page until Ctrl-C; running jobs keep going and a restart picks them up."""
    import uvicorn

    from studio.api import create_app

    sock = bind(host, port)
    port = sock.getsockname()[1]
    # Prefect configures logging when `prefect.main` is first imported, resetting uvicorn's loggers:
    # let it happen now, before uvicorn applies its own configuration
    import prefect.main  # noqa: F401

    prefect_url = ensure_prefect_api()
    app = create_app()
    shown = f"[{host}]" if ":" in host else host
    print(f"Aura Studio on http://{shown}:{port}  (Prefect API {prefect_url}, runner "
          f"{app.state.settings.runner})", file=sys.stderr, flush=True)
    if host not in ("127.0.0.1", "::1", "localhost") and not app.state.settings.key_list():
        print("warning: listening beyond this machine without API keys: anyone who can reach it can start "
              "renders; set AURA_API_KEYS", file=sys.stderr, flush=True)
    config = uvicorn.Config(app, log_config=_log_config(log_level), log_level=log_level,
                            timeout_graceful_shutdown=3, proxy_headers=True)
    uvicorn.Server(config).run(sockets=[sock])


@contextlib.contextmanager
def running_server(app: Any, host: str = "127.0.0.1", port: int = 0, startup_timeout: float = 120) -> Iterator[str]:
    """Run `app` with uvicorn in a thread on host:port (0: a free port); yield its base URL."""
    import uvicorn

    sock = bind(host, port)
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=2, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise RuntimeError(f"the API server on port {port} did not start")
        time.sleep(0.05)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
