"""Spec strings resolve lazily; unknown specs and missing keys say what to do."""

from __future__ import annotations

import subprocess
import sys

import pytest

from providers.errors import ConfigurationError
from providers.registry import parse_spec, resolve


def test_parse_spec() -> None:
    assert parse_spec("openai:gpt-4o-mini") == ("openai", "gpt-4o-mini")
    assert parse_spec("diffusers:/models/sdxl:turbo") == ("diffusers", "/models/sdxl:turbo")
    assert parse_spec("local") == ("local", "")


def test_local_providers_resolve() -> None:
    for capability in ("llm", "tts", "images", "renderer"):
        spec = "ffmpeg" if capability == "renderer" else "local"
        assert resolve(capability, spec) is not None


def test_unknown_spec_lists_the_choices() -> None:
    with pytest.raises(ConfigurationError, match="choose one of"):
        resolve("tts", "nope:thing")


def test_importing_providers_loads_no_sdk_or_torch() -> None:
    heavy = "('torch', 'diffusers', 'openai', 'elevenlabs', 'moviepy')"
    code = f"import sys, providers, tasks.schemas; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
