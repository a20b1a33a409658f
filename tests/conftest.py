"""One Prefect test harness for the whole session, and an isolated Aura home per session."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# before Prefect is imported anywhere: keep its files and database inside the test session
_SESSION = Path(os.environ.get("AURA_TEST_ROOT") or tempfile.mkdtemp(prefix="aura-tests-"))
(_SESSION / "prefect").mkdir(parents=True, exist_ok=True)
os.environ["PREFECT_HOME"] = str(_SESSION / "prefect")
os.environ["PREFECT_LOCAL_STORAGE_PATH"] = str(_SESSION / "prefect" / "storage")
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["DO_NOT_TRACK"] = "1"
os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "180"
os.environ["AURA_HOME"] = str(_SESSION / "aura")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


@pytest.fixture(scope="session", autouse=True)
def prefect_harness() -> Iterator[None]:
    """A temporary Prefect API and database shared by every test that runs a flow or task."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def aura_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh AURA_HOME for one test."""
    from providers.settings import get_settings

    home = tmp_path / "aura-home"
    monkeypatch.setenv("AURA_HOME", str(home))
    get_settings.cache_clear()
    yield home
    get_settings.cache_clear()


@pytest.fixture
def tiny_brief():
    """A 10-second brief: the smallest the schema allows."""
    from tasks.schemas import Brief

    return Brief(topic="How honeybees communicate", duration=10, audience="test viewers", density="sparse")


@pytest.fixture
def tiny_render():
    """The cheapest render: 360p, 24 fps, draft quality."""
    from tasks.schemas import RenderSpec

    return RenderSpec(resolution="360p", fps=24, quality="draft")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 3 MB tmpfs at a fresh folder, unmounted afterwards (skipped, saying why, where mounting is not allowed)."""
    import shutil
    import subprocess

    folder = tmp_path / "small-disk"
    folder.mkdir()
    if not shutil.which("mount"):
        pytest.skip("no `mount` command on this machine")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(folder)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN): {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)
