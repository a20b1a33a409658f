"""`aura generate --review` and `aura review` as a user runs them, against a real Prefect server (the session's).

The CLI shows the waiting script and answers it from the terminal (approve, edit in $EDITOR, reject); with no
terminal to answer from it waits for the Prefect UI or `aura review RUN_ID` from another process, or times out.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ARGS = ["generate", "How honeybees communicate", "--duration", "10", "--density", "sparse", "--resolution", "360p",
        "--fps", "24", "--quality", "draft", "--review"]


def _env(home: Path, **extra: str) -> dict[str, str]:
    from prefect.settings import PREFECT_API_URL

    return {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value()), "AURA_HOME": str(home), **extra}


def _aura(*args: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "studio.cli", *args], input=stdin, env=env, capture_output=True,
                          text=True, timeout=300)


def test_approved_from_the_terminal(tmp_path: Path) -> None:
    done = _aura(*ARGS, "--out", str(tmp_path / "bees.mp4"), env=_env(tmp_path / "home"), stdin="a\n")
    assert done.returncode == 0, done.stderr
    assert "Review the script" in done.stderr and "the rest of the run costs" in done.stderr
    assert (tmp_path / "bees.mp4").is_file()


def test_edited_in_the_editor(tmp_path: Path) -> None:
    editor = tmp_path / "editor.py"  # what a person does in $EDITOR: rewrite the first scene's narration
    editor.write_text("import json, sys\np = sys.argv[1]\nd = json.load(open(p))\n"
                      "d['scenes'] = d['scenes'][:1]\nd['scenes'][0]['narration'] = 'Bees waggle to share maps.'\n"
                      "json.dump(d, open(p, 'w'))\n", encoding="utf-8")
    env = _env(tmp_path / "home", EDITOR=f"{sys.executable} {editor}")
    done = _aura(*ARGS, "--out", str(tmp_path / "bees.mp4"), "--json", env=env, stdin="e\n")
    assert done.returncode == 0, done.stderr
    srt = (tmp_path / "bees.srt").read_text(encoding="utf-8")
    assert "waggle" in srt and '"scenes":1' in done.stdout.replace(" ", "")


def test_rejected_from_the_terminal(tmp_path: Path) -> None:
    done = _aura(*ARGS, "--out", str(tmp_path / "bees.mp4"), env=_env(tmp_path / "home"), stdin="r\ntoo dull\n")
    assert done.returncode == 1
    assert "rejected in review: too dull" in done.stderr
    assert not (tmp_path / "bees.mp4").exists()


def test_answered_by_another_process_then_a_timeout(tmp_path: Path) -> None:
    env = _env(tmp_path / "home")
    run = subprocess.Popen([sys.executable, "-m", "studio.cli", *ARGS, "--out", str(tmp_path / "bees.mp4")],
                           stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    assert run.stderr is not None
    said = ""
    for line in run.stderr:  # the CLI names the run it waits for
        said += line
        found = re.search(r"aura review ([0-9a-f-]{36})", said)
        if found:
            break
    assert found, said
    shown = _aura("review", found.group(1), "--show", str(tmp_path / "waiting.json"), env=env)
    assert shown.returncode == 0 and '"scenes"' in (tmp_path / "waiting.json").read_text()
    answered = _aura("review", found.group(1), "--approve", env=env)
    assert answered.returncode == 0, answered.stderr
    rest = run.communicate(timeout=300)[1]
    assert run.returncode == 0, said + rest
    assert (tmp_path / "bees.mp4").is_file()
    assert _aura("review", found.group(1), "--approve", env=env).returncode == 1  # nothing waits any more

    started = time.monotonic()
    late = _aura(*ARGS, "--out", str(tmp_path / "late.mp4"), env=_env(tmp_path / "home", AURA_REVIEW_TIMEOUT="3"))
    # whichever ends the wait first: the run itself (cancelled) or the server's pause expiry (failed)
    assert late.returncode == 1 and re.search(r"stopped: .*(not reviewed in time|never resumed)", late.stderr)
    assert "Traceback" not in late.stderr
    assert not (tmp_path / "late.mp4").exists() and time.monotonic() - started < 200
