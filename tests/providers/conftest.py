"""Fixtures for the vendor providers: local fake servers, settings pointed at them, tiny diffusion models."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root: `tests.fakes`

from tests.fakes.elevenlabs_server import FakeElevenLabs  # noqa: E402
from tests.fakes.openai_server import FakeOpenAI  # noqa: E402

# variables that would point the providers somewhere real; every vendor test starts without them
_VENDOR_VARS = (
    "OPENAI_API_KEY", "OPENAI_BASE_URL", "AURA_OPENAI_API_KEY", "AURA_OPENAI_BASE_URL", "ELEVENLABS_API_KEY",
    "ELEVENLABS_BASE_URL", "AURA_ELEVENLABS_API_KEY", "AURA_ELEVENLABS_BASE_URL", "AURA_LLM_BASE_URL",
    "AURA_LLM_API_KEY", "AURA_LLM_STRUCTURED", "AURA_PRICES", "AURA_BUDGET", "AURA_SECRET_BLOCKS",
)


@pytest.fixture
def vendor_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """No vendor keys or URLs from the outside, no SDK-level retries, short timeouts; settings re-read."""
    from providers.settings import get_settings

    for name in _VENDOR_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AURA_VENDOR_MAX_RETRIES", "0")
    for name in ("AURA_LLM_TIMEOUT", "AURA_LOCAL_LLM_TIMEOUT", "AURA_TTS_TIMEOUT", "AURA_IMAGE_TIMEOUT"):
        monkeypatch.setenv(name, "10")
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def reload_settings() -> None:
    """Forget the cached settings after changing the environment."""
    from providers.settings import get_settings

    get_settings.cache_clear()


@pytest.fixture(scope="session")
def _openai_fake() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI()
    yield server
    server.close()


@pytest.fixture(scope="session")
def _elevenlabs_fake() -> Iterator[FakeElevenLabs]:
    server = FakeElevenLabs()
    yield server
    server.close()


@pytest.fixture
def openai_server(_openai_fake: FakeOpenAI, vendor_env: pytest.MonkeyPatch) -> FakeOpenAI:
    """The fake OpenAI API, answering normally, with OPENAI_API_KEY and OPENAI_BASE_URL pointing at it."""
    _openai_fake.reset()
    writer = sys.modules.get("providers.llm.openai")
    if writer is not None:  # forget which servers refused structured outputs in earlier tests
        writer._unstructured.clear()
    vendor_env.setenv("OPENAI_API_KEY", _openai_fake.key)
    vendor_env.setenv("OPENAI_BASE_URL", _openai_fake.url)
    reload_settings()
    return _openai_fake


@pytest.fixture
def elevenlabs_server(_elevenlabs_fake: FakeElevenLabs, vendor_env: pytest.MonkeyPatch) -> FakeElevenLabs:
    """The fake ElevenLabs API, answering normally, with ELEVENLABS_API_KEY and ELEVENLABS_BASE_URL set."""
    _elevenlabs_fake.reset()
    vendor_env.setenv("ELEVENLABS_API_KEY", _elevenlabs_fake.key)
    vendor_env.setenv("ELEVENLABS_BASE_URL", _elevenlabs_fake.url)
    reload_settings()
    return _elevenlabs_fake


@pytest.fixture(scope="session")
def tiny_sd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random SD pipeline saved to a folder (built once per session)."""
    import torch

    from tests.fakes.tiny_diffusion import build_tiny_sd

    torch.set_num_threads(1)
    return build_tiny_sd(tmp_path_factory.mktemp("models") / "tiny-sd")


@pytest.fixture(scope="session")
def tiny_sdxl(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random SDXL pipeline saved to a folder whose name marks it as turbo (built once per session)."""
    import torch

    from tests.fakes.tiny_diffusion import build_tiny_sdxl

    torch.set_num_threads(1)
    return build_tiny_sdxl(tmp_path_factory.mktemp("models") / "tiny-sdxl-turbo")


@pytest.fixture
def diffusers_env(vendor_env: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Settings for tiny models on the CPU: 64 px, 2 steps, no downloads."""
    vendor_env.setenv("AURA_DIFFUSERS_SIZE", "64")
    vendor_env.setenv("AURA_DIFFUSERS_STEPS", "2")
    vendor_env.setenv("AURA_DIFFUSERS_DEVICE", "cpu")
    vendor_env.setenv("HF_HUB_OFFLINE", "1")
    reload_settings()
    return vendor_env
