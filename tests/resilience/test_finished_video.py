"""Defects 13.1 and 13.9: the finished video at the output path is the job's own, and nothing partial is ever
left in the user's folder, even when the run is killed with SIGKILL during the final join."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flows.make_video import make_video
from providers.media.streams import probe
from tasks.schemas import Brief, RenderSpec
from tests.resilience.conftest import ffmpeg_under, partials, topic

TINY = RenderSpec(resolution="360p", fps=24, quality="draft")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_rerun_never_reports_another_jobs_or_an_empty_file(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    out = tmp_path / "videos" / "x.mp4"
    a = Brief(topic=topic("cache A"), duration=10, density="sparse")
    b = Brief(topic=topic("cache B"), duration=10, density="sparse")

    first = make_video(brief=a, render=TINY, out=str(out))
    made_a = _digest(out)
    make_video(brief=b, render=TINY, out=str(out))
    assert _digest(out) != made_a

    again = make_video(brief=a, render=TINY, out=str(out))  # every stage before the join is cached
    assert _digest(out) == made_a and again.title == first.title
    assert not again.metrics["composition"].cached  # the join ran again: x.mp4 was B's

    out.write_bytes(b"")
    last = make_video(brief=a, render=TINY, out=str(out))
    assert _digest(out) == made_a and last.size_bytes == out.stat().st_size > 0
    assert probe(out).video_codec == "h264"


RUN = """
from flows.make_video import make_video
from tasks.schemas import Brief, RenderSpec
make_video(brief=Brief(topic={topic!r}, duration=10, density="sparse"),
           render=RenderSpec(resolution="360p", fps=24, quality="draft"), out={out!r})
"""


def _kill_during_join(out: Path, cli_env: dict[str, str], what: str) -> bool:
    """Start the run in its own process group, SIGKILL it while ffmpeg joins; False if the join was missed."""
    run = subprocess.Popen([sys.executable, "-c", RUN.format(topic=what, out=str(out))], env=cli_env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and run.poll() is None:
            if ffmpeg_under(run.pid, "concat"):
                os.killpg(run.pid, signal.SIGKILL)
                run.wait()
                return True
            time.sleep(0.005)
        return False
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()


@pytest.mark.e2e
def test_sigkill_during_the_final_join_leaves_nothing_in_the_output_folder(cli_env: dict[str, str],
                                                                            tmp_path: Path) -> None:
    videos = tmp_path / "videos"
    videos.mkdir()
    out = videos / "bees.mp4"
    what = topic("join kill")
    caught = False
    for _ in range(6):  # the join is short: a run that finished before the kill is simply tried again
        caught = _kill_during_join(out, cli_env, what)
        if caught:
            break
        for path in videos.iterdir():
            path.unlink()
    assert caught, "never caught ffmpeg joining the video"
    assert list(videos.iterdir()) == []  # no partial file, and no video without its captions
    runs = Path(cli_env["AURA_HOME"]) / "runs"

    rerun = subprocess.run([sys.executable, "-c", RUN.format(topic=what, out=str(out))], env=cli_env,
                           capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stdout[-2000:] + rerun.stderr[-2000:]
    assert sorted(p.name for p in videos.iterdir()) == ["bees.mp4", "bees.srt", "bees.vtt"]
    assert partials(videos, runs) == []  # the killed run's work in the run folder was swept
    assert probe(out).video_codec == "h264"
    assert ffmpeg_under() == []
