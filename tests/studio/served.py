"""The API served by real uvicorn over loopback, in a thread of the test process."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

from studio.server import bind, uvicorn_config


@contextlib.contextmanager
def running_server(app: Any, host: str = "127.0.0.1", port: int = 0, startup_timeout: float = 120) -> Iterator[str]:
    """Run `app` with uvicorn in a thread on host:port (0: a free port); yield its base URL."""
    import uvicorn

    sock = bind(host, port)
    port = sock.getsockname()[1]
    config = uvicorn_config(app, "warning", timeout_graceful_shutdown=2, lifespan="on")
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
