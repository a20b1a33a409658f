"""Kill a real run with SIGKILL in the middle, start it again, and check that only unfinished work ran."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from providers.media.streams import probe

RUN = """
from flows.make_video import make_video
from tasks.schemas import Brief, RenderSpec
make_video(brief=Brief(topic="How tides work", duration=40, density="dense"),
           render=RenderSpec(resolution="360p", fps=24, quality="draft"), out={out!r})
"""


def _start(out: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", RUN.format(out=str(out))], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)


def _states(log: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name, state in re.findall(r"Task run '([a-z_]+)-\w+' - (?:\[[\w-]+\] )?Finished in state (\w+)", log):
        found.setdefault(name, []).append(state)
    return found


@pytest.mark.e2e
def test_sigkill_during_composition_then_resume(tmp_path: Path) -> None:
    env = {**os.environ, "AURA_HOME": str(tmp_path / "home"), "PREFECT_HOME": str(tmp_path / "prefect"),
           "PREFECT_LOCAL_STORAGE_PATH": str(tmp_path / "prefect" / "storage"), "PREFECT_LOGGING_LEVEL": "INFO",
           "AURA_MAX_WORKERS": "2"}
    env.pop("PREFECT_API_URL", None)  # each run gets its own temporary server, like a fresh process would
    out = tmp_path / "tides.mp4"
    first = _start(out, env)
    segments = None
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and first.poll() is None:
        found = list((tmp_path / "home" / "runs").glob("*/segments/scene-*.mp4"))
        if len(found) >= 2:
            segments = found
            break
        time.sleep(0.05)
    assert segments, "composition never started"
    time.sleep(0.3)  # let the finished segments' results be persisted
    os.killpg(first.pid, signal.SIGKILL)
    first_log = first.communicate()[0]
    assert not out.exists(), "a killed run must not leave a video at the output path"
    assert not [p for p in psutil.process_iter(["cmdline"]) if str(tmp_path) in " ".join(p.info["cmdline"] or [])]

    second = _start(out, env)
    log = second.communicate(timeout=300)[0]
    assert second.returncode == 0, log[-3000:]
    before, after = _states(first_log), _states(log)
    # everything that finished before the kill is served from cache; nothing else is
    for stage in ("validate_brief", "write_script", "synthesize_narration", "generate_scene_image", "build_timeline"):
        assert after[stage] and set(after[stage]) == {"Cached"}, (stage, after.get(stage))
    rendered_before = before.get("render_segment", [])
    assert after["render_segment"].count("Cached") >= 1
    assert after["render_segment"].count("Completed") >= 1
    assert after["render_segment"].count("Cached") >= len(rendered_before) - 1
    assert after["finish_video"] == ["Completed"]
    assert probe(out).video_codec == "h264"
