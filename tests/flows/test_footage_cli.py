"""`aura generate` with footage: bad input is one line (exit 2) before any run starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def aura(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    (home / "prefect").mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "AURA_HOME": str(home), "PREFECT_HOME": str(home / "prefect")}
    for name in ("PREFECT_API_URL", "PEXELS_API_KEY", "AURA_PEXELS_API_KEY", "PIXABAY_API_KEY", "AURA_SECRET_BLOCKS",
                 "AURA_FALLBACK_IMAGES"):
        env.pop(name, None)
    return subprocess.run([sys.executable, "-m", "studio.cli", "generate", *args], capture_output=True, text=True,
                          env=env, timeout=120, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize(("args", "message"), [
    (["Our trip", "--media", "{media}", "--images", "pexels"], "--media and --images both choose the visuals"),
    (["How tides work", "--images", "pexels"], "PEXELS_API_KEY"),
    (["How tides work", "--images", "pixabay-photos"], "PIXABAY_API_KEY"),
    (["Our trip", "--media", "{tmp}/no-such-folder"], "--media"),
])
def test_footage_options_fail_fast_in_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    media = tmp_path / "clips"
    media.mkdir()
    args = [a.format(media=media, tmp=tmp_path) for a in args]
    result = aura(*args, "--out", str(tmp_path / "v.mp4"), home=tmp_path / "home")
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]
    assert not (tmp_path / "v.mp4").exists()
