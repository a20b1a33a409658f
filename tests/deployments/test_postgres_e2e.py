"""The Prefect server on PostgreSQL (Debian's packages, a throwaway cluster started by the test) with
a process worker running the smoke deployment: the set-up deployments/README.md describes."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prefect_stack import PrefectStack, free_port, prepare

from providers.media.streams import probe

pytestmark = pytest.mark.e2e


class Postgres:
    """A PostgreSQL cluster in a temporary folder, on loopback, trusting local connections."""

    def __init__(self) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not found:
            pytest.skip("PostgreSQL server binaries are not installed (tests/setup_and_run.sh installs them)")
        self.bin = Path(found[-1]).parent
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="aura-pg-"))
        self.user = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
        if os.geteuid() == 0:  # the server refuses to run as root
            shutil.chown(self.root, "postgres", "postgres")

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:
            # runuser lives in /usr/sbin, which a minimal PATH may lack
            runuser = shutil.which("runuser") or "/usr/sbin/runuser"
            command = [runuser, "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=self.root)
        assert done.returncode == 0, f"{command}: {done.stdout}\n{done.stderr}"
        return done

    def start(self) -> str:
        """initdb, start, create the `prefect` database; return its SQLAlchemy URL."""
        data = self.root / "data"
        self._run("initdb", "-D", str(data), "-U", self.user, "--auth=trust", "-E", "UTF8", "--no-sync")
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(data), "-o", options, "-l", str(self.root / "postgres.log"), "-w", "start")
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, "prefect")
        return f"postgresql+asyncpg://{self.user}@127.0.0.1:{self.port}/prefect"

    def sql(self, query: str) -> str:
        """One value from a query against the `prefect` database."""
        return self._run("psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, "-d", "prefect",
                         "-tAc", query).stdout.strip()

    def stop(self) -> None:
        if (self.root / "data" / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    db = Postgres()
    yield db
    db.stop()  # after the stacks of this module: the server goes before its database


@pytest.fixture(scope="module")
def pg_stack(postgres: Postgres, stack_factory: Any) -> PrefectStack:
    url = postgres.start()
    stack = stack_factory("postgres-stack", database_url=url)
    stack.start_server()
    prepare(stack)
    stack.start_worker("aura-cpu")
    return stack


def test_server_on_postgres_runs_a_deployment_through_a_worker(postgres: Postgres, pg_stack: PrefectStack) -> None:
    started = time.perf_counter()
    out = pg_stack.root / "videos" / "tides.mp4"
    run, _ = pg_stack.deploy_smoke_run({"brief": {"topic": "How tides work", "duration": 10}, "out": str(out)})
    seconds = time.perf_counter() - started
    assert run["state"]["type"] == "COMPLETED"
    assert probe(out).video_duration > 3
    assert pg_stack.artifacts(run["id"])["aura-progress"]["data"] == 100
    # the server really keeps its state in PostgreSQL
    assert postgres.sql(f"select state_type from flow_run where id = '{run['id']}'") == "COMPLETED"
    assert int(postgres.sql("select count(*) from deployment")) == 4
    print(f"\npostgres smoke run: {seconds:.1f} s")
