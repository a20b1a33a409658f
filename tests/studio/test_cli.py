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
    for name in ("OPENAI_API_KEY", "AURA_OPENAI_API_KEY", "AURA_SECRET_BLOCKS", "AURA_PROFILE"):
        env.pop(name, None)
    return subprocess.run([sys.executable, "-m", "studio.cli", *args], capture_output=True, text=True, env=env,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def test_help_documents_every_option_its_default_and_its_choices(tmp_path: Path) -> None:
    result = aura("generate", "--help", home=tmp_path)
    assert result.returncode == 0
    text = " ".join(result.stdout.replace("│", " ").split())
    for option in ("--duration", "--aspect", "--out", "--mkdir", "--json", "--llm", "--voice", "--images",
                   "--resolution"):
        assert option in text
    assert "360p, 480p, 720p, 1080p, 2160p" in text and "[default: 720p]" in text
    assert "[default: 60.0]" in text and "[default: 16:9]" in text and "(default: AURA_TTS or local)" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["", "--out", "{out}"], "TOPIC"),
        (["bees", "--duration", "5", "--out", "{out}"], "--duration"),
        (["bees", "--aspect", "4:3", "--out", "{out}"], "--aspect"),
        (["bees", "--out", "{tmp}/file.txt/v.mp4"], "--out"),
        (["bees", "--out", "{tmp}/v.avi"], ".mp4"),
        # fail fast: what is checkable before a run is refused before any Prefect server starts
        (["bees", "--out", "{tmp}/missing/v.mp4"], "--out: the folder"),
        (["bees", "--voice", "espeak:no-such-voice", "--out", "{out}"], "--voice"),
        (["bees", "--voice", "espeak:../lang", "--out", "{out}"], "--voice"),
        (["bees", "--llm", "openai:gpt-4o-mini", "--out", "{out}"], "--llm: openai:gpt-4o-mini needs OPENAI_API_KEY"),
        (["bees", "--images", "nope:x", "--out", "{out}"], "--images: unknown images provider"),
        (["bees", "--profile", "fast", "--out", "{out}"], "--profile"),
        # click's own usage errors are one line too
        (["bees", "--music", "{tmp}/none.wav", "--out", "{out}"], "'--music'"),
        (["bees", "--durration", "30", "--out", "{out}"], "No such option: --durration"),
        (["bees", "--fps", "fast", "--out", "{out}"], "'--fps'"),
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
    assert list((tmp_path / "home" / "prefect").iterdir()) == []  # no server was started, no database made


REFUSE_AND_LIST_MODULES = """
import sys
from studio.cli import main
sys.argv = ["aura", "generate", *sys.argv[1:]]
try:
    main()
finally:
    print(sorted(m for m in sys.modules if m.split(".")[0] in ("prefect", "torch", "openai", "fastapi")))
"""


@pytest.mark.parametrize("args", [["--duration", "5"], ["--llm", "openai:gpt-4o-mini"], ["--voice", "espeak:nope"],
                                  ["--profile", "quick-demo", "--out", "{tmp}/missing/v.mp4"]])
def test_a_refusal_imports_no_prefect_and_no_vendor_sdk(tmp_path: Path, args: list[str]) -> None:
    # what makes a refusal take a third of a second rather than a second and a half
    args = [a.format(tmp=tmp_path) for a in args]
    env = {**os.environ, "AURA_HOME": str(tmp_path / "home"), "PREFECT_HOME": str(tmp_path / "prefect")}
    for name in ("PREFECT_API_URL", "OPENAI_API_KEY", "AURA_OPENAI_API_KEY", "AURA_PROFILE"):
        env.pop(name, None)
    result = subprocess.run([sys.executable, "-c", REFUSE_AND_LIST_MODULES, "bees", *args], capture_output=True,
                            text=True, env=env, timeout=60, stdin=subprocess.DEVNULL)
    assert result.returncode == 2, result.stderr
    assert result.stdout.strip() == "[]"


def test_aura_home_that_is_a_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "home").mkdir()
    (tmp_path / "not-a-folder").write_text("x")
    env_home = tmp_path / "home"
    (env_home / "prefect").mkdir()
    env = {**os.environ, "AURA_HOME": str(tmp_path / "not-a-folder"), "PREFECT_HOME": str(env_home / "prefect")}
    env.pop("PREFECT_API_URL", None)
    result = subprocess.run([sys.executable, "-m", "studio.cli", "generate", "bees", "--out", str(tmp_path / "v.mp4")],
                            capture_output=True, text=True, env=env, timeout=60, stdin=subprocess.DEVNULL)
    assert result.returncode == 2
    assert result.stderr.strip() == (f"error: AURA_HOME: {tmp_path / 'not-a-folder'} is a file, not a folder: "
                                     "point AURA_HOME at a folder")


def test_summary_counts_scenes_in_words() -> None:
    from rich.console import Console

    from studio import cli
    from tasks.schemas import Video

    video = Video(path=Path("v.mp4"), duration=10.0, narration_duration=10.0, width=640, height=360, fps=24,
                  video_codec="h264", audio_codec="aac", size_bytes=10**6, title="Bees", scenes=1, job_key="k",
                  created_at="2026-01-01T00:00:00Z")
    console = Console(record=True, width=200)
    cli.err, previous = console, cli.err
    try:
        cli._summary(video)
        cli._summary(video.model_copy(update={"scenes": 3}))
    finally:
        cli.err = previous
    text = console.export_text()
    assert "1 scene," in text and "3 scenes," in text and "1 scenes" not in text


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


@pytest.mark.parametrize(
    ("error", "says"),
    [
        (OSError(28, "No space left on device", "/v/bees.vtt"), "the disk is full writing /v/bees.vtt: free space"),
        (PermissionError(13, "Permission denied", "/v/bees.mp4"), "not allowed to write /v/bees.mp4: choose a folder"),
        (NotADirectoryError(20, "Not a directory", "/h/runs"), "/h/runs is in the way: a file where a folder"),
        (OSError(5, "Input/output error", "/v/x"), "Input/output error: /v/x"),
    ],
)
def test_os_errors_are_one_line_naming_what_to_fix(error: OSError, says: str) -> None:
    from studio.cli import _os_error

    text = _os_error(error)
    assert text.startswith(says) and "\n" not in text
