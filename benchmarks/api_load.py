"""Load test of the REST API on loopback: concurrent real jobs, many SSE clients, memory of the API process.

`aura serve` runs as a subprocess (with its own temporary AURA_HOME; with PREFECT_API_URL set it
uses that Prefect server, otherwise it starts its local one), and its Prefect runner runs the jobs,
`--max-jobs` at a time, each in a process of its own. Each round submits `--jobs` jobs at
once (10-second briefs at 360p, distinct topics) and opens `--clients` event streams spread over
them; some clients join late (they get the log replayed), some drop their connection mid-way and
reconnect with Last-Event-ID. Checked per round:

- every client of a job ends with the same events as every other, ids 1..N without a gap, a
  non-decreasing percentage, and `done` last: no lost, duplicated or reordered event;
- every job is `done` in /status and its video downloads;
- the resident memory of the API process (not of the render processes) after each round stays
  within `--max-growth-mb` of its value after the first round;
- once `aura serve` is stopped, none of its processes (Prefect server, jobs, ffmpeg) is left.

    python benchmarks/api_load.py                          # 2 rounds, 4 jobs, 60 clients
    python benchmarks/api_load.py --jobs 3 --clients 24 --json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from studio.sse import parse_lines  # noqa: E402

TOPICS = ["how bees dance", "how tides rise", "how glaciers move", "how volcanoes erupt", "how birds migrate",
          "how rivers bend", "how clouds form", "how coral grows", "how seeds travel", "how bats see"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Sampler:
    """Samples a process's resident memory every `interval` seconds."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self.proc = psutil.Process(pid)
        self.interval = interval
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def rss_mb(self) -> float:
        return self.proc.memory_info().rss / 2**20

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append(self.rss_mb())
            except psutil.Error:
                return
            self._stop.wait(self.interval)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


async def _client(http: httpx.AsyncClient, job_id: str, delay: float, drop_after: int | None) -> dict[str, Any]:
    """One SSE client: join after `delay`, maybe drop after `drop_after` events and resume with Last-Event-ID."""
    await asyncio.sleep(delay)
    events: list[tuple[int, str, dict[str, Any]]] = []
    reconnects = 0
    while True:
        headers = {"Last-Event-ID": str(events[-1][0])} if events else {}
        async with http.stream("GET", f"/api/videos/{job_id}/stream", headers=headers,
                               timeout=httpx.Timeout(600, read=60)) as response:
            if response.status_code == 204:
                break
            response.raise_for_status()
            lines: list[str] = []
            async for line in response.aiter_lines():
                lines.append(line)
                if line:
                    continue
                for message in parse_lines(lines):
                    events.append((message.id or 0, message.event, message.data))
                lines = []
                if events and events[-1][1] in ("done", "error"):
                    return {"events": events, "reconnects": reconnects}
                if drop_after is not None and len(events) >= drop_after:
                    drop_after = None
                    reconnects += 1
                    break
            else:
                reconnects += 1  # the server closed the stream: resume
    return {"events": events, "reconnects": reconnects}


def _check_job(job_id: str, results: list[dict[str, Any]]) -> list[str]:
    """Problems with the event logs the clients of one job received."""
    problems = []
    reference = results[0]["events"]
    for n, result in enumerate(results):
        events = result["events"]
        ids = [e[0] for e in events]
        if ids != list(range(1, len(ids) + 1)):
            problems.append(f"{job_id} client {n}: ids {ids}")
        percentages = [e[2]["percentage"] for e in events if "percentage" in e[2]]
        if percentages != sorted(percentages):
            problems.append(f"{job_id} client {n}: percentage went down {percentages}")
        if not events or events[-1][1] != "done":
            problems.append(f"{job_id} client {n}: did not end with done ({events[-1][1] if events else 'nothing'})")
        if events != reference:
            problems.append(f"{job_id} client {n}: {len(events)} events, another client got {len(reference)}")
    return problems


async def _round(base: str, number: int, jobs: int, clients: int, duration: float,
                 timeout: float = 900) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=clients + 50, max_keepalive_connections=clients + 50)
    # a generous read timeout: on a loaded machine creating a flow run can wait on Prefect's SQLite database for
    # a minute; the benchmark measures lost events and memory, and reports the answer times, not a deadline
    async with httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(60, read=300), limits=limits) as http:
        started = time.monotonic()
        bodies = [{"brief": f"{TOPICS[(number * jobs + i) % len(TOPICS)]} (round {number}, job {i})",
                   "durationSeconds": duration, "options": {"resolution": "360p", "fps": 24, "quality": "draft",
                                                            "density": "sparse"}}
                  for i in range(jobs)]
        answers = await asyncio.gather(*(http.post("/api/videos/generate", json=b) for b in bodies))
        for answer in answers:
            answer.raise_for_status()
        job_ids = [a.json()["jobId"] for a in answers]
        submitted = time.monotonic() - started
        rng = random.Random(number)
        plan = [(job_ids[i % jobs], rng.uniform(0, 3) if i % 4 == 3 else 0.0, rng.randint(2, 6) if i % 5 == 4 else None)
                for i in range(clients)]
        try:
            results = await asyncio.wait_for(asyncio.gather(*(_client(http, j, d, k) for j, d, k in plan)), timeout)
        except TimeoutError:
            return {"round": number, "jobs": jobs, "clients": clients, "jobs_done": 0, "videos": 0,
                    "events_delivered": 0, "events_per_job": [], "events_expected": -1, "reconnects": 0,
                    "submit_seconds": 0,
                    "seconds": round(time.monotonic() - started, 1),
                    "problems": [f"the clients did not all see their job end within {timeout:.0f} s"]}
        elapsed = time.monotonic() - started
        by_job: dict[str, list[dict[str, Any]]] = {j: [] for j in job_ids}
        for (job_id, _, _), result in zip(plan, results, strict=True):
            by_job[job_id].append(result)
        problems = [p for job_id, rs in by_job.items() for p in _check_job(job_id, rs)]
        statuses = await asyncio.gather(*(http.get(f"/api/videos/{j}/status") for j in job_ids))
        done = sum(1 for s in statuses if s.json()["status"] == "done")
        sizes = []
        for status in statuses:
            url = status.json().get("videoUrl")
            if url:
                head = await http.head(url)
                sizes.append(int(head.headers.get("content-length", 0)))
        return {
            "round": number, "jobs": jobs, "clients": clients, "jobs_done": done, "videos": len(sizes),
            "events_delivered": sum(len(r["events"]) for r in results),
            "events_per_job": sorted({len(rs[0]["events"]) for rs in by_job.values()}),
            "events_expected": sum(len(rs[0]["events"]) * len(rs) for rs in by_job.values()),
            "reconnects": sum(r["reconnects"] for r in results), "submit_seconds": round(submitted, 2),
            "seconds": round(elapsed, 1), "problems": problems,
        }


def run(jobs: int, clients: int, rounds: int, duration: float, max_jobs: int, max_growth_mb: float) -> dict[str, Any]:
    """Start `aura serve`, run the rounds, stop it; return the figures."""
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="aura-load-") as tmp:
        env = {**os.environ, "AURA_HOME": str(Path(tmp) / "home"),
               "AURA_API_RATE_PER_MINUTE": "0", "AURA_API_GENERATE_PER_MINUTE": "0",
               "AURA_API_MAX_JOBS": str(max_jobs), "AURA_API_HEARTBEAT_SECONDS": "1",
               "AURA_API_MAX_STREAMS": str(clients + 100)}
        if not env.get("PREFECT_API_URL"):
            env["PREFECT_HOME"] = str(Path(tmp) / "prefect")
        log = open(Path(tmp) / "serve.log", "wb")  # noqa: SIM115 - closed below
        family: list[psutil.Process] = []
        server = subprocess.Popen([sys.executable, "-m", "studio.cli", "serve", "--port", str(port)],
                                  cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 180
            while True:
                try:
                    if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("aura serve did not start:\n" + (Path(tmp) / "serve.log").read_text()[-3000:])
                time.sleep(0.2)
            results = []
            with Sampler(server.pid) as sampler:
                idle = sampler.rss_mb()
                for number in range(1, rounds + 1):
                    print(f"round {number}: {jobs} jobs, {clients} clients ...", file=sys.stderr, flush=True)
                    result = asyncio.run(_round(base, number, jobs, clients, duration))
                    time.sleep(1.0)
                    result["rss_after_mb"] = round(sampler.rss_mb(), 1)
                    results.append(result)
            peak = max(sampler.samples, default=idle)
        finally:
            with contextlib.suppress(psutil.Error):
                family = psutil.Process(server.pid).children(recursive=True)
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
            log.close()
            _, left = psutil.wait_procs(family, timeout=10)
    after = [r["rss_after_mb"] for r in results]
    growth = round(after[-1] - after[0], 1)
    problems = [p for r in results for p in r["problems"]]
    ok = (not problems and all(r["jobs_done"] == jobs and r["videos"] == jobs for r in results)
          and growth <= max_growth_mb and not left)
    return {"ok": ok, "rounds": results, "rss_idle_mb": round(idle, 1), "rss_peak_mb": round(peak, 1),
            "rss_after_rounds_mb": after, "rss_growth_mb": growth, "max_growth_mb": max_growth_mb,
            "lost_or_bad_events": len(problems), "processes_left": [p.pid for p in left]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=4, help="jobs submitted at once per round")
    parser.add_argument("--clients", type=int, default=60, help="SSE clients per round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--duration", type=float, default=10, help="target seconds of each video")
    parser.add_argument("--max-jobs", type=int, default=2, help="jobs rendering at once (AURA_API_MAX_JOBS)")
    parser.add_argument("--max-growth-mb", type=float, default=20.0, help="allowed RSS growth after round 1")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that `aura serve` is stopped on the way out
    figures = run(args.jobs, args.clients, args.rounds, args.duration, args.max_jobs, args.max_growth_mb)
    if args.json:
        print(json.dumps(figures))
    else:
        for r in figures["rounds"]:
            print(f"round {r['round']}: {r['jobs_done']}/{r['jobs']} jobs done, {r['clients']} clients, "
                  f"{r['events_delivered']} events delivered ({r['events_per_job']} per job), "
                  f"{r['reconnects']} reconnects, {r['seconds']} s, API RSS after {r['rss_after_mb']} MB")
            for problem in r["problems"][:10]:
                print("  problem:", problem)
        print(f"API process RSS: idle {figures['rss_idle_mb']} MB, peak {figures['rss_peak_mb']} MB, "
              f"growth after round 1: {figures['rss_growth_mb']} MB (allowed {figures['max_growth_mb']})")
        print(f"processes of aura serve left after it stopped: {len(figures['processes_left'])}")
        print("OK" if figures["ok"] else "FAILED")
    raise SystemExit(0 if figures["ok"] else 1)


if __name__ == "__main__":
    main()
