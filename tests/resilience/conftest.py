"""Fixtures for fault injection: the fake vendor servers, settings pointed at them, fresh breakers, and
what a `python -m studio.cli` subprocess needs to run against the session's Prefect API."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from providers.remote.breaker import reset_breakers
from providers.settings import get_settings
from tests.fakes.elevenlabs_server import FakeElevenLabs
from tests.fakes.openai_server import FakeOpenAI

REPO = Path(__file__).resolve().parents[2]

# variables that would point the providers somewhere real, or change how hard a run tries
_OUTSIDE = (
    "OPENAI_API_KEY", "OPENAI_BASE_URL", "AURA_OPENAI_API_KEY", "AURA_OPENAI_BASE_URL", "ELEVENLABS_API_KEY",
    "ELEVENLABS_BASE_URL", "AURA_ELEVENLABS_API_KEY", "AURA_ELEVENLABS_BASE_URL", "AURA_LLM_BASE_URL",
    "AURA_LLM_API_KEY", "AURA_LLM_STRUCTURED", "AURA_PRICES", "AURA_BUDGET", "AURA_SECRET_BLOCKS",
    "AURA_FALLBACK_LLM", "AURA_FALLBACK_TTS", "AURA_FALLBACK_IMAGES", "AURA_PROFILE", "AURA_LLM",
    "AURA_TTS", "AURA_IMAGES", "AURA_BREAKER_WINDOW", "AURA_BREAKER_OPEN_FOR", "AURA_BREAKER_MIN_CALLS",
)


def topic(what: str) -> str:
    """A topic no other test uses: task results are cached by input across the whole session."""
    return f"How honeybees communicate ({what} {uuid.uuid4().hex[:6]})"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[pytest.MonkeyPatch]:
    """A fresh AURA_HOME, no vendor keys or fallbacks from outside, no SDK retries, fresh breakers."""
    for name in _OUTSIDE:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AURA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("AURA_VENDOR_MAX_RETRIES", "0")  # the task's retries are under test, not the SDK's
    monkeypatch.setenv("AURA_MAX_WORKERS", "2")
    for name in ("AURA_LLM_TIMEOUT", "AURA_LOCAL_LLM_TIMEOUT", "AURA_TTS_TIMEOUT", "AURA_IMAGE_TIMEOUT"):
        monkeypatch.setenv(name, "10")
    get_settings.cache_clear()
    reset_breakers()
    yield monkeypatch
    get_settings.cache_clear()
    reset_breakers()


@pytest.fixture(scope="session")
def _openai() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI()
    yield server
    server.close()


@pytest.fixture(scope="session")
def _elevenlabs() -> Iterator[FakeElevenLabs]:
    server = FakeElevenLabs()
    yield server
    server.close()


@pytest.fixture
def openai_fake(_openai: FakeOpenAI, env: pytest.MonkeyPatch) -> Iterator[FakeOpenAI]:
    """The fake OpenAI API answering normally, with OPENAI_API_KEY and OPENAI_BASE_URL pointing at it."""
    _openai.reset()
    writer = sys.modules.get("providers.llm.openai")
    if writer is not None:  # forget servers that refused structured outputs in earlier tests
        writer._unstructured.clear()
    env.setenv("OPENAI_API_KEY", _openai.key)
    env.setenv("OPENAI_BASE_URL", _openai.url)
    get_settings.cache_clear()
    yield _openai
    _openai.reset()  # releases answers still hanging


@pytest.fixture
def elevenlabs_fake(_elevenlabs: FakeElevenLabs, env: pytest.MonkeyPatch) -> Iterator[FakeElevenLabs]:
    """The fake ElevenLabs API answering normally, with its key and base URL set."""
    _elevenlabs.reset()
    env.setenv("ELEVENLABS_API_KEY", _elevenlabs.key)
    env.setenv("ELEVENLABS_BASE_URL", _elevenlabs.url)
    get_settings.cache_clear()
    yield _elevenlabs
    _elevenlabs.reset()


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    """Environment for `python -m studio.cli` against the session's Prefect API (no temporary server)."""
    from prefect.settings import get_current_settings

    api = get_current_settings().api.url
    assert api, "the session harness should have set a Prefect API URL"
    # as in a user's shell: the CLI picks its own Prefect log level
    env = {k: v for k, v in os.environ.items() if k not in _OUTSIDE and k != "PREFECT_LOGGING_LEVEL"}
    env.update({
        "AURA_HOME": str(tmp_path / "home"), "PREFECT_API_URL": str(api),
        "PREFECT_HOME": str(tmp_path / "prefect"), "AURA_MAX_WORKERS": "2", "AURA_VENDOR_MAX_RETRIES": "0",
        "PYTHONUNBUFFERED": "1", "COLUMNS": "200",
    })
    return env


# --mkdir: the tests' output folders do not exist yet, and the CLI refuses a missing folder unless asked
TINY = ["--duration", "10", "--density", "sparse", "--resolution", "360p", "--fps", "24", "--quality", "draft",
        "--mkdir"]


def cli(*args: str) -> list[str]:
    """The command line of `aura generate ...` with the tiny media options."""
    return [sys.executable, "-m", "studio.cli", "generate", *args, *TINY]


def ffmpeg_under(root: int | None = None, marker: str = "") -> list[psutil.Process]:
    """ffmpeg processes below process `root` (default: this one) whose command line contains `marker`."""
    found = []
    try:
        children = psutil.Process(root).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    for child in children:
        try:
            if "ffmpeg" in child.name() and marker in " ".join(child.cmdline()):
                found.append(child)
        except psutil.Error:
            continue
    return found


def processes_mentioning(text: str) -> list[psutil.Process]:
    """Every process on the machine whose command line contains `text` (a test's own temp folder)."""
    me = os.getpid()
    found = []
    # name, cmdline and ppid are read once here: asking the process again can fail once it has ended
    for proc in psutil.process_iter(["pid", "name", "cmdline", "ppid"]):
        try:
            if proc.info["pid"] != me and text in " ".join(proc.info["cmdline"] or []):
                found.append(proc)
        except psutil.Error:
            continue
    return found


def partials(*folders: Path) -> list[Path]:
    """Temporary files and scratch folders (atomic writes, caption work dirs, concat lists) under `folders`."""
    found: list[Path] = []
    for folder in folders:
        if folder.exists():
            found += [p for p in folder.rglob(".*") if ".partial" in p.name or p.name.startswith(".captions-")
                      or p.name.endswith(".segments.txt")]
    return found
