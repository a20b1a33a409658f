"""A real Prefect stack for the deployment tests: `prefect server`, work pools, deployments, a worker.

Everything runs as subprocesses of the test, on loopback, with its own PREFECT_HOME, database, result
storage and AURA_HOME under a temporary folder. The worker starts in that folder, not in the
repository, so the deployments' pull step is what makes the code importable. Shutdown stops the
worker before the server and checks that no process of the stack outlives it.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PREFECT = str(BIN / "prefect")


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def output_folder(tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    """Where a test keeps what a person should look at (screenshots): AURA_TEST_OUTPUT or a temp folder."""
    root = os.environ.get("AURA_TEST_OUTPUT")
    folder = Path(root) / name if root else tmp_path_factory.mktemp(name)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class PrefectStack:
    """A Prefect server and workers in subprocesses, and the CLI and REST API to drive them."""

    def __init__(self, root: Path, database_url: str | None = None) -> None:
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.api = f"{self.url}/api"
        self.home = root / "prefect-home"
        self.aura_home = root / "aura-home"
        self.logs = root / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.env = {
            k: v for k, v in os.environ.items()
            if not k.startswith(("PREFECT_", "AURA_")) or k in ("AURA_FONT",)
        }
        self.env.update({
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "PREFECT_HOME": str(self.home),
            "PREFECT_API_URL": self.api,
            "PREFECT_UI_API_URL": self.api,
            "PREFECT_LOCAL_STORAGE_PATH": str(root / "results"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_LOGGING_LEVEL": "INFO",
            "PREFECT_WORKER_QUERY_SECONDS": "2",  # pick runs up quickly (default 10 s)
            "PREFECT_CLI_WRAP_LINES": "false",
            "DO_NOT_TRACK": "1",
            "AURA_HOME": str(self.aura_home),
            "COLUMNS": "200",
        })
        if database_url:
            self.env["PREFECT_API_DATABASE_CONNECTION_URL"] = database_url
        self.server: subprocess.Popen[bytes] | None = None
        self.workers: list[subprocess.Popen[bytes]] = []
        self.http = httpx.Client(base_url=self.api, timeout=30)

    # --- processes
    def _spawn(self, args: list[str], log: str, cwd: Path) -> subprocess.Popen[bytes]:
        out = (self.logs / log).open("ab")
        return subprocess.Popen(args, cwd=cwd, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)

    def start_server(self, timeout: float = 180) -> float:
        """Start `prefect server start` and wait until it answers; return the seconds it took."""
        started = time.perf_counter()
        args = [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(self.port)]
        self.server = self._spawn(args, "server.log", self.root)
        deadline = started + timeout
        while time.perf_counter() < deadline:
            if self.server.poll() is not None:
                raise RuntimeError(f"prefect server exited:\n{self.log('server.log')}")
            try:
                if self.http.get("/health").status_code == 200:
                    return time.perf_counter() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise TimeoutError(f"prefect server did not answer in {timeout} s:\n{self.log('server.log')}")

    def start_worker(self, pool: str = "aura-cpu", timeout: float = 60) -> subprocess.Popen[bytes]:
        """Start a worker on `pool` in the stack's folder (not the repository); wait until it polls."""
        worker = self._spawn([PREFECT, "worker", "start", "--pool", pool, "--name", f"test-{pool}"],
                             f"worker-{pool}.log", self.root)
        self.workers.append(worker)
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if worker.poll() is not None:
                raise RuntimeError(f"worker exited:\n{self.log(f'worker-{pool}.log')}")
            found = self.post(f"/work_pools/{pool}/workers/filter", {})
            if any(w["name"] == f"test-{pool}" for w in found):
                return worker
            time.sleep(0.5)
        raise TimeoutError(f"worker did not register in {timeout} s")

    def stop(self) -> None:
        """Stop the workers, then the server; fail if any of their processes is left."""
        procs = [*self.workers, *([self.server] if self.server else [])]
        tree = []
        for proc in procs:
            try:
                tree += [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
            except psutil.NoSuchProcess:
                continue
        for proc in procs:  # workers first, server last
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=10)
        _, alive = psutil.wait_procs(tree, timeout=10)
        for proc in alive:
            proc.kill()
        self.http.close()
        assert not alive, f"processes left after shutdown: {[p.pid for p in alive]}"

    # --- CLI and API
    def cli(self, *args: str, timeout: float = 300, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
        """Run the `prefect` CLI against the stack."""
        return subprocess.run([PREFECT, *args], cwd=cwd, env=self.env, capture_output=True, text=True,
                              timeout=timeout)

    def run(self, *args: str, timeout: float = 300, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
        """Run any command with the stack's environment."""
        return subprocess.run(list(args), cwd=cwd, env=self.env, capture_output=True, text=True,
                              timeout=timeout)

    def post(self, path: str, body: dict[str, Any]) -> Any:
        """POST to the REST API; the decoded answer."""
        return send_retrying(self.http, "POST", path, body).json()

    def get(self, path: str) -> Any:
        """GET from the REST API; the decoded answer."""
        return send_retrying(self.http, "GET", path).json()

    def log(self, name: str) -> str:
        """The end of one of the stack's log files."""
        path = self.logs / name
        return path.read_text(errors="replace")[-6000:] if path.exists() else ""

    def deploy_smoke_run(self, params: dict[str, Any]) -> tuple[dict[str, Any], float]:
        """`prefect deployment run 'make-video/smoke' --params ... --watch`: the flow run and its seconds."""
        started = time.perf_counter()
        done = self.cli("deployment", "run", "make-video/smoke", "--params", json.dumps(params), "--watch",
                        "--watch-timeout", "240")
        seconds = time.perf_counter() - started
        assert done.returncode == 0, f"{done.stdout}\n{done.stderr}\n{self.log('worker-aura-cpu.log')}"
        runs = self.post("/flow_runs/filter", {"sort": "START_TIME_DESC", "limit": 1,
                                               "deployments": {"name": {"any_": ["smoke"]}}})
        return runs[0], seconds

    def artifacts(self, flow_run_id: str) -> dict[str, dict[str, Any]]:
        """The flow run's artifacts by key."""
        found = self.post("/artifacts/filter", {"artifacts": {"flow_run_id": {"any_": [flow_run_id]}}})
        return {a["key"]: a for a in found if a["key"]}

    def task_runs(self, flow_run_id: str) -> list[dict[str, Any]]:
        """The flow run's task runs."""
        return self.post("/task_runs/filter", {"flow_runs": {"id": {"any_": [flow_run_id]}}})

    def logs_of(self, flow_run_id: str) -> list[dict[str, Any]]:
        """The flow run's log lines as the UI shows them, oldest first."""
        body = {"logs": {"flow_run_id": {"any_": [flow_run_id]}}, "sort": "TIMESTAMP_ASC"}
        return list(self.post("/logs/filter", body))

    def events_of(self, flow_run_id: str, until: Callable[[list[dict[str, Any]]], bool],
                  timeout: float = 30) -> list[dict[str, Any]]:
        """The run's `aura.stage.*` events, once `until(events)` holds (the server stores them in batches)."""
        related = {"id": [f"prefect.flow-run.{flow_run_id}"]}
        query = {"event": {"prefix": ["aura.stage."]}, "related": related, "order": "ASC"}
        body = {"filter": query, "limit": 50}  # the most one page holds
        deadline = time.perf_counter() + timeout
        while True:
            events = list(self.post("/events/filter", body)["events"])
            if until(events) or time.perf_counter() > deadline:
                return events
            time.sleep(1)


RETRYABLE = (429, 502, 503, 504)


def send_retrying(http: httpx.Client, method: str, path: str, body: dict[str, Any] | None = None,
                  attempts: int = 8, max_delay: float = 10.0) -> httpx.Response:
    """One request to Prefect's REST API, retried the way Prefect's own client retries.

    On SQLite, a write that meets another writer's lock fails with "database is locked"; the server
    answers that with 503 (and 429 when it sheds load) precisely so that clients retry, and Prefect's
    client, its CLI and its workers all do (PREFECT_CLIENT_MAX_RETRIES). A bare HTTP client that takes
    the first 503 as final fails whenever the machine is busy enough for two writes to overlap.
    """
    delay = 0.5
    for attempt in range(attempts):
        response = http.request(method, path, json=body)
        if response.status_code not in RETRYABLE or attempt == attempts - 1:
            response.raise_for_status()
            return response
        wait = response.headers.get("Retry-After", "")
        pause = float(wait) if wait.replace(".", "", 1).isdigit() else delay * random.uniform(1.0, 1.5)
        time.sleep(min(pause, max_delay))
        delay = min(delay * 2, max_delay)
    raise AssertionError("unreachable")


def prepare(stack: PrefectStack) -> None:
    """Create the work pools (deployments/pools.sh) and register every deployment (`prefect deploy --all`)."""
    pools = stack.run("bash", str(REPO / "deployments" / "pools.sh"))
    assert pools.returncode == 0, pools.stdout + pools.stderr
    deployed = stack.cli("--no-prompt", "deploy", "--all")
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr


def chromium() -> str | None:
    """Debian's chromium, if installed."""
    return shutil.which("chromium") or next(
        (p for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser") if Path(p).exists()), None)
