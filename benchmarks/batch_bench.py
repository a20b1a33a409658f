"""`aura batch` of N briefs against N sequential `aura generate` calls: wall time, same briefs, nothing cached.

Both modes talk to one running Prefect server (started here unless PREFECT_API_URL is set) and each gets a
fresh AURA_HOME, so neither reuses the other's media. Prints the batch's summary table and a table with the
ratio against the sequential reference run in the same invocation.

    .venv/bin/python benchmarks/batch_bench.py                 # 5 briefs of 20 s at 360p, concurrency 2
    .venv/bin/python benchmarks/batch_bench.py --count 3 --duration 10 --concurrency 3
"""

from __future__ import annotations

import argparse
import csv
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
TOPICS = ["How tides work", "Why the sky is blue", "How volcanoes erupt", "How magnets work", "How rainbows form",
          "How bees make honey", "Why leaves change colour", "How clouds form"]
RENDER = ["--resolution", "360p", "--fps", "24", "--quality", "draft"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _server(root: Path) -> tuple[subprocess.Popen[bytes] | None, str]:
    if os.environ.get("PREFECT_API_URL"):
        return None, os.environ["PREFECT_API_URL"]
    port = _free_port()
    env = {**os.environ, "PREFECT_HOME": str(root / "prefect"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    server = subprocess.Popen([str(REPO / ".venv/bin/prefect"), "server", "start", "--host", "127.0.0.1", "--port",
                               str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return server, url
        except httpx.HTTPError:
            time.sleep(0.5)
    server.kill()
    raise SystemExit("the Prefect server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5)
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args()
    aura = [sys.executable, "-m", "studio.cli"]
    with tempfile.TemporaryDirectory(prefix="aura-batch-bench-") as folder:
        root = Path(folder)
        server, url = _server(root)
        try:
            base = {**os.environ, "PREFECT_API_URL": url, "PREFECT_LOGGING_LEVEL": "CRITICAL"}
            topics = TOPICS[:args.count]
            briefs = root / "briefs.csv"
            with briefs.open("w", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(["topic", "duration", "density"])
                writer.writerows([t, args.duration, "sparse"] for t in topics)

            started = time.perf_counter()
            for topic in topics:
                one = subprocess.run([*aura, "generate", topic, "--duration", str(args.duration), "--density",
                                      "sparse", *RENDER], cwd=REPO, env={**base, "AURA_HOME": str(root / "seq")},
                                     capture_output=True, text=True)
                if one.returncode != 0:
                    raise SystemExit(f"aura generate {topic!r} failed:\n{one.stderr}")
            sequential = time.perf_counter() - started

            started = time.perf_counter()
            batch = subprocess.run([*aura, "batch", str(briefs), "--concurrency", str(args.concurrency), *RENDER],
                                   cwd=REPO, env={**base, "AURA_HOME": str(root / "batch")}, capture_output=True,
                                   text=True)
            batched = time.perf_counter() - started
            print(batch.stderr)
            if batch.returncode != 0:
                raise SystemExit(f"aura batch failed ({batch.returncode})")
        finally:
            if server is not None:
                server.terminate()
                server.wait(timeout=30)
    load = os.getloadavg()
    print(f"{args.count} briefs of {args.duration} s at 360p; load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    print(f"| mode | wall (s) | ratio |\n|---|---|---|\n"
          f"| {args.count} × `aura generate` (reference) | {sequential:.1f} | 1.00 |\n"
          f"| `aura batch --concurrency {args.concurrency}` | {batched:.1f} | {batched / sequential:.2f} |")


if __name__ == "__main__":
    main()
