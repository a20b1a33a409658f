"""The `aura` command as a user runs it: a real process, real output, clear errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from providers.media.streams import probe


def aura(*args: str, home: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    (home / "prefect").mkdir(parents=True, exist_ok=True)  # Prefect creates its home without parents
    env = {**os.environ, "AURA_HOME": str(home), "PREFECT_HOME": str(home / "prefect"),
           "PREFECT_LOCAL_STORAGE_PATH": str(home / "prefect" / "storage")}
    env.pop("PREFECT_API_URL", None)
    return subprocess.run([sys.executable, "-m", "studio.cli", *args], capture_output=True, text=True, env=env,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def test_help_documents_every_option(tmp_path: Path) -> None:
    result = aura("generate", "--help", home=tmp_path)
    assert result.returncode == 0
    for option in ("--duration", "--aspect", "--out", "--json", "--llm", "--voice", "--images", "--resolution"):
        assert option in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["", "--out", "{out}"], "TOPIC"),
        (["bees", "--duration", "5", "--out", "{out}"], "--duration"),
        (["bees", "--aspect", "4:3", "--out", "{out}"], "--aspect"),
        (["bees", "--out", "{tmp}/file.txt/v.mp4"], "--out"),
        (["bees", "--out", "{tmp}/v.avi"], ".mp4"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_written(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "file.txt").write_text("x")
    out = tmp_path / "v.mp4"
    args = [a.format(out=out, tmp=tmp_path) for a in args]
    result = aura("generate", *args, home=tmp_path / "home", timeout=60)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0]
    assert result.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt", "home"]
    assert [p.name for p in (tmp_path / "home").iterdir()] == ["prefect"]


@pytest.mark.e2e
def test_generate_json_prints_one_video_object(tmp_path: Path) -> None:
    out = tmp_path / "bees.mp4"
    result = aura("generate", "How honeybees communicate", "--duration", "10", "--resolution", "360p",
                  "--fps", "24", "--quality", "draft", "--out", str(out), "--json", home=tmp_path / "home")
    assert result.returncode == 0, result.stderr[-2000:]
    video = json.loads(result.stdout)
    assert set(video["metrics"]) == {"brief", "script", "voice", "visuals", "composition"}
    assert all("seconds" in m for m in video["metrics"].values())
    assert Path(video["path"]) == out and out.with_suffix(".srt").is_file()
    assert probe(out).audio_codec == "aac"
