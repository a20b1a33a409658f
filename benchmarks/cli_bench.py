"""CLI benchmark: how long `aura generate` takes as a user runs it, with a temporary Prefect server per command
against a persistent one (`aura server start`), and how fast bad input is refused.

Every figure is the wall time of a real `python -m studio.cli ...` process, as a shell would see it. Each mode
gets fresh AURA_HOME and PREFECT_HOME folders, so its cold run renders everything; both databases are created
before timing starts (the first server start on a fresh machine also migrates its database: timed apart).

- `cold`: the first `aura generate "How honeybees communicate" --duration 30` (nothing cached);
- `cached`: the same command again (every stage from the cache): median and best of `--repeat` runs;
- references: `python -c pass` (the interpreter alone) and `python -c "import flows.make_video"` (the floor
  for any command that runs the flow in its own process);
- fail fast: each check's refusal (exit 2, one line), from the command's start to its exit.

    python benchmarks/cli_bench.py                 # both modes, 3 cached runs each, the fail-fast checks
    python benchmarks/cli_bench.py --repeat 5 --json out.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TOPIC = "How honeybees communicate"


def _env(home: Path) -> dict[str, str]:
    (home / "prefect").mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "AURA_HOME": str(home / "aura"), "PREFECT_HOME": str(home / "prefect"),
           "PREFECT_PROFILES_PATH": str(home / "prefect" / "profiles.toml"),
           "PREFECT_LOCAL_STORAGE_PATH": str(home / "prefect" / "storage")}
    for name in ("PREFECT_API_URL", "AURA_PROFILE", "OPENAI_API_KEY", "AURA_OPENAI_API_KEY", "AURA_SECRET_BLOCKS"):
        env.pop(name, None)
    return env


_CPU: list[float] = [0.0]  # CPU seconds (user + system) of the last command timed, its children included


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed(command: list[str], env: dict[str, str], expect: int = 0) -> tuple[float, str]:
    """Wall seconds of one command and the last line of its stderr; fails loudly on an unexpected exit status.

    Its CPU seconds are left in `_CPU[0]`: on a loaded machine they show what the wall time would be on an idle one.
    """
    cpu = _children_cpu()
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    _CPU[0] = _children_cpu() - cpu
    if done.returncode != expect:
        raise SystemExit(f"{' '.join(command)} exited {done.returncode}, expected {expect}:\n{done.stderr[-3000:]}")
    lines = done.stderr.strip().splitlines()
    return seconds, lines[-1] if lines else ""


def _aura(*args: str) -> list[str]:
    return [sys.executable, "-m", "studio.cli", *args]


@contextlib.contextmanager
def _persistent(env: dict[str, str]) -> Iterator[float]:
    """`aura server start` for the duration of the block; yields how long the start took."""
    seconds, _ = _timed(_aura("server", "start", "--port", "0"), env)
    try:
        yield seconds
    finally:
        _timed(_aura("server", "stop"), env)


def _generate(env: dict[str, str], out: Path) -> list[str]:
    return _aura("generate", TOPIC, "--duration", "30", "--out", str(out))


def run_mode(mode: str, work: Path, repeat: int) -> dict[str, Any]:
    """Cold and cached runs of the README command in `mode` ('temporary' or 'persistent')."""
    home = work / mode
    env = _env(home)
    out = home / "bees.mp4"
    result: dict[str, Any] = {"mode": mode}
    # the database is made (migrated) by a first server start: timed apart, not in the cold run
    seconds, _ = _timed(_aura("server", "start", "--port", "0"), env)
    _timed(_aura("server", "stop"), env)
    result["first_server_start"] = seconds
    with _persistent(env) if mode == "persistent" else contextlib.nullcontext(0.0) as start:
        result["server_start"] = start
        result["cold"] = _timed(_generate(env, out), env)[0]
        result["cold_cpu"] = _CPU[0]
        cached, cpu = [], []
        for _ in range(repeat):
            cached.append(_timed(_generate(env, out), env)[0])
            cpu.append(_CPU[0])
        result["cached_cpu_median"] = statistics.median(cpu)
    result["cached_median"] = statistics.median(cached)
    result["cached_best"] = min(cached)
    result["cached_all"] = cached
    return result


def fail_fast(work: Path) -> list[tuple[str, float, float, str]]:
    """Each pre-run check's refusal: (what, wall seconds, CPU seconds, the line printed)."""
    env = _env(work / "fail-fast")
    (work / "not-a-folder").write_text("x")
    ok_out = str(work / "fail-fast" / "x.mp4")
    cases: list[tuple[str, list[str], dict[str, str]]] = [
        ("bad option value (--duration 5)", ["--duration", "5", "--out", ok_out], {}),
        ("unknown vendor (--llm nope)", ["--llm", "nope", "--out", ok_out], {}),
        ("missing key (--llm openai:gpt-4o-mini)", ["--llm", "openai:gpt-4o-mini", "--out", ok_out], {}),
        ("unknown voice (--voice espeak:nosuch)", ["--voice", "espeak:nosuch", "--out", ok_out], {}),
        ("voice as a path (--voice espeak:../lang)", ["--voice", "espeak:../lang", "--out", ok_out], {}),
        ("missing output folder", ["--out", str(work / "missing" / "x.mp4")], {}),
        ("AURA_HOME is a file", ["--out", ok_out], {"AURA_HOME": str(work / "not-a-folder")}),
    ]
    small = work / "small-disk"
    small.mkdir()
    mounted = shutil.which("mount") and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(small)], capture_output=True).returncode == 0
    if mounted:
        cases.append(("too little disk for this job", ["--out", str(small / "x.mp4")], {}))
    rows = []
    try:
        for what, args, extra in cases:
            seconds, line = _timed(_aura("generate", TOPIC, *args), {**env, **extra}, expect=2)
            rows.append((what, seconds, _CPU[0], line))
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(small)], check=False)
    return rows


def main() -> None:
    """Run the benchmark and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="cached runs per mode")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--skip-runs", action="store_true", help="only the references and the fail-fast checks")
    args = parser.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="aura-cli-bench-") as folder:
        work = Path(folder)
        base = _env(work / "ref")
        python = min(_timed([sys.executable, "-c", "pass"], base)[0] for _ in range(3))
        python_cpu = _CPU[0]
        imports = min(_timed([sys.executable, "-c", "import flows.make_video"], base)[0] for _ in range(2))
        helps = min(_timed(_aura("generate", "--help"), base)[0] for _ in range(2))
        helps_cpu = _CPU[0]
        modes = [] if args.skip_runs else [run_mode(m, work, args.repeat) for m in ("temporary", "persistent")]
        refusals = fail_fast(work)
    load_after = os.getloadavg()

    print(f"\nload average before {load_before[0]:.1f}, after {load_after[0]:.1f} ({os.cpu_count()} CPUs)\n")
    print(f"{'reference':<44} {'wall s':>8}")
    print(f"{'python -c pass':<44} {python:8.2f}   (CPU {python_cpu:.2f} s)")
    label = 'python -c "import flows.make_video"'
    print(f"{label:<44} {imports:8.2f}")
    print(f"{'aura generate --help':<44} {helps:8.2f}   (CPU {helps_cpu:.2f} s)")
    if modes:
        temporary, persistent = modes
        print(f"\n{'aura generate ... --duration 30':<34} {'temporary':>10} {'persistent':>11} {'ratio':>7}")
        for key, label in (("cold", "cold"), ("cached_median", "cached (median)"), ("cached_best", "cached (best)"),
                           ("cold_cpu", "cold, CPU s of the command"), ("cached_cpu_median", "cached, CPU s (median)")):
            t, p = temporary[key], persistent[key]
            print(f"{label:<34} {t:10.2f} {p:11.2f} {t / p:6.1f}×")
        print(f"{'cached best / import of the flow':<34} {temporary['cached_best'] / imports:9.1f}× "
              f"{persistent['cached_best'] / imports:10.1f}×")
        print(f"\naura server start: {persistent['server_start']:.1f} s (first start on a fresh database: "
              f"{temporary['first_server_start']:.1f} s); cached runs: "
              f"temporary {', '.join(f'{s:.1f}' for s in temporary['cached_all'])}; "
              f"persistent {', '.join(f'{s:.1f}' for s in persistent['cached_all'])}")
    print(f"\n{'fail fast (exit 2, one line)':<44} {'wall s':>8} {'CPU s':>7} {'wall/--help':>12}")
    for what, seconds, cpu, _ in refusals:
        print(f"{what:<44} {seconds:8.2f} {cpu:7.2f} {seconds / helps:11.2f}×")
    for what, _, _, line in refusals:
        print(f"  {what}: {line}")
    if args.json:
        checks = [{"check": w, "seconds": s, "cpu_seconds": c, "line": ln} for w, s, c, ln in refusals]
        args.json.write_text(json.dumps({"load": [load_before, load_after], "python": python, "import_flow": imports,
                                         "help": helps, "modes": modes, "fail_fast": checks}, indent=2))


if __name__ == "__main__":
    main()
