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
